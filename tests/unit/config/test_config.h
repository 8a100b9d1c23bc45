/* The config suite's test cases and shared helpers. */
#ifndef TEST_CONFIG_H
#define TEST_CONFIG_H

#include <check.h>

#include "edge_config.h"

TCase *test_config_errors_tcase(void);
TCase *test_config_values_tcase(void);
TCase *test_config_reference_tcase(void);
TCase *test_config_robustness_tcase(void);
TCase *test_config_password_file_tcase(void);

/* Load text (named "t.conf") into a fresh default config. Returns the
 * load's result; err receives the message. *out gets the config (caller
 * frees), or NULL when out is NULL. */
int load_text(const char *text, char *err, size_t errlen, edge_config **out);

/* The value of a key through edge_config_get, in a static buffer. */
const char *value_of(const edge_config *c, const char *name);

#endif
