/* Checked fixture for suites over a real database file: each test gets a
 * fresh scratch directory (removed afterwards) and test_db_path naming
 * "edged.db" in it. Header-only: include it from one file of a suite. */
#ifndef EDGE_TEST_DB_FIXTURE_H
#define EDGE_TEST_DB_FIXTURE_H

#include "test_tmpdir.h"

static struct test_tmpdir test_db_dir;
static char test_db_path[PATH_MAX + 64];

static void test_db_setup(void)
{
	test_tmpdir_make(&test_db_dir);
	test_tmpdir_path(&test_db_dir, "edged.db", test_db_path, sizeof test_db_path);
}

static void test_db_teardown(void)
{
	test_tmpdir_remove(&test_db_dir);
}

#endif
