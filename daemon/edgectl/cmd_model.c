/* `edgectl model ...`: offline tools on a local .tflite file (no daemon). */
#include <stdio.h>
#include <string.h>

#include "edgectl.h"
#include "model_tool.h"

static void model_usage(FILE *f)
{
	fprintf(f,
		"usage: edgectl model inspect FILE [--json] [--trust DIR]\n"
		"       edgectl model run FILE --input IN.bin [--input IN2.bin ...] --output OUT.bin [--reference]\n"
		"       edgectl model bench FILE [--iters N] [--json]\n"
		"       edgectl model pack MODEL.tflite --name N --version V --counter C [--expires DATE]\n"
		"                          --key K [--key K2 ...] --out PKG\n"
		"       edgectl model verify PKG --trust DIR [--threshold K] [--json]\n"
		"\n"
		"inspect  operators, tensors (shape, quantization), MACs, arena and persistent bytes,\n"
		"         and which operator the engine does not support\n"
		"run      feed raw input tensor bytes, write the raw bytes of output tensor 0\n"
		"         (--reference: portable reference kernels instead of the optimised ones)\n"
		"bench    latency of the reference and optimised kernels (min/median/p99), MAC/s\n"
		"pack     signed package: manifest from the engine's view, golden self-test, signatures\n"
		"verify   exit 0 only if K distinct keys of DIR/*.pub signed, size/SHA-256 match, not expired\n"
		"         (inspect on a package: its manifest and signatures; --trust DIR checks them)\n"
		"\n"
		"Environment: EDGE_INFER_ISA=none|avx2|avxvnni|avx512vnni|neon|dotprod lowers the\n"
		"optimised kernels' instruction set; EDGE_INFER_KERNELS=reference forces the reference.\n");
}

int edgectl_cmd_model(int argc, char **argv)
{
	/* Accept argv with or without the leading "model". */
	if (argc > 0 && strcmp(argv[0], "model") == 0) {
		argc--;
		argv++;
	}
	if (argc < 1) {
		model_usage(stderr);
		return MODEL_EXIT_USAGE;
	}
	const char *sub = argv[0];
	if (strcmp(sub, "inspect") == 0)
		return model_cmd_inspect(argc - 1, argv + 1);
	if (strcmp(sub, "run") == 0)
		return model_cmd_run(argc - 1, argv + 1);
	if (strcmp(sub, "bench") == 0)
		return model_cmd_bench(argc - 1, argv + 1);
	if (strcmp(sub, "pack") == 0)
		return model_cmd_pack(argc - 1, argv + 1);
	if (strcmp(sub, "verify") == 0)
		return model_cmd_verify(argc - 1, argv + 1);
	if (strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
		model_usage(stdout);
		return MODEL_EXIT_OK;
	}
	fprintf(stderr, "edgectl model: unknown subcommand '%s'\n", sub);
	model_usage(stderr);
	return MODEL_EXIT_USAGE;
}
