/* The platform part of the test firmware, for the Cortex-M4 build only
 * (scripts/sdk-size.sh links it with -nostartfiles): what a vendor's
 * startup code and board support provide, reduced to what the size and
 * allocation figures need. The firmware is measured, never run.
 *
 * newlib's crt0 is left out on purpose: it registers atexit handlers, and
 * newlib's atexit refers weakly to malloc, which keeps the allocator in
 * the image whenever anything else has pulled it into the link (the
 * gateway-only parsers of proto/ do, through strtod, before --gc-sections
 * drops them). Real firmware starts from its reset handler and never
 * exits. */
#include <stddef.h>
#include <string.h>

/* From the toolchain's default linker script. */
extern char __bss_start__[], __bss_end__[];

int main(void);
void _start(void);
void __assert_func(const char *file, int line, const char *func,
		   const char *expr) __attribute__((noreturn));

/* The reset handler (the default linker script's entry point): .data is
 * linked in place, so only .bss needs clearing. */
void _start(void)
{
	memset(__bss_start__, 0, (size_t)(__bss_end__ - __bss_start__));
	(void)main();
	for (;;)
		;
}

/* The SDK assert()s its invariants. newlib's own __assert_func prints
 * through stdio, which allocates (and costs kilobytes of flash): firmware
 * supplies this hook (record, then reset) or builds with NDEBUG. This one
 * stops. */
void __assert_func(const char *file, int line, const char *func,
		   const char *expr)
{
	(void)file;
	(void)line;
	(void)func;
	(void)expr;
	for (;;)
		;
}
