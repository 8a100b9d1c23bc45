/* Run-time selection of the optimised kernels' instruction-set level and
 * the edge_opt_* entry points (edge_opt.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <sys/auxv.h>
#endif

#include "edge_opt.h"
#include "opt_internal.h"

#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif

static const struct {
	int isa;
	const char *name;
	const char *describe;
} isa_names[] = {
	{ EDGE_OPT_ISA_NONE, "none", "reference kernels only" },
	{ EDGE_OPT_ISA_AVX2, "avx2", "x86-64 AVX2" },
	{ EDGE_OPT_ISA_AVX_VNNI, "avxvnni", "x86-64 AVX-VNNI" },
	{ EDGE_OPT_ISA_AVX512_VNNI, "avx512vnni", "x86-64 AVX-512 VNNI" },
	{ EDGE_OPT_ISA_NEON, "neon", "aarch64 NEON" },
	{ EDGE_OPT_ISA_DOTPROD, "dotprod", "aarch64 NEON dot-product" },
};

/* -1 until first use; then the active level. */
static int active_isa = -1;

#if defined(__x86_64__)
/* AVX-VNNI is CPUID.(EAX=7,ECX=1):EAX bit 4 (not every compiler's
 * __builtin_cpu_supports knows it); the OS saves YMM state when AVX2 is
 * reported usable. */
static int cpu_has_avxvnni(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid_count(7, 1, &a, &b, &c, &d))
		return 0;
	return (a >> 4) & 1u;
}
#endif

static const edge__opt_isa_ops *ops_for(int isa)
{
	switch (isa) {
#if defined(__x86_64__)
	case EDGE_OPT_ISA_AVX2: return &edge__opt_avx2_ops;
	case EDGE_OPT_ISA_AVX_VNNI: return &edge__opt_avxvnni_ops;
	case EDGE_OPT_ISA_AVX512_VNNI: return &edge__opt_avx512vnni_ops;
#elif defined(__aarch64__)
	case EDGE_OPT_ISA_NEON: return &edge__opt_neon_ops;
	case EDGE_OPT_ISA_DOTPROD: return &edge__opt_dotprod_ops;
#endif
	default: return NULL;
	}
}

int edge_opt_isa_supported(int isa)
{
	if (isa == EDGE_OPT_ISA_NONE)
		return 1;
	if (!ops_for(isa))
		return 0;
#if defined(__x86_64__)
	__builtin_cpu_init();
	switch (isa) {
	case EDGE_OPT_ISA_AVX2:
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	case EDGE_OPT_ISA_AVX_VNNI:
		return __builtin_cpu_supports("avx2") && cpu_has_avxvnni();
	case EDGE_OPT_ISA_AVX512_VNNI:
		return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
	}
#elif defined(__aarch64__)
	switch (isa) {
	case EDGE_OPT_ISA_NEON:
		return 1; /* part of the aarch64 baseline */
	case EDGE_OPT_ISA_DOTPROD:
		return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
	}
#endif
	return 0;
}

int edge_opt_isa_best(void)
{
	static const int order[] = { EDGE_OPT_ISA_AVX512_VNNI, EDGE_OPT_ISA_AVX_VNNI, EDGE_OPT_ISA_AVX2,
				     EDGE_OPT_ISA_DOTPROD, EDGE_OPT_ISA_NEON };
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (edge_opt_isa_supported(order[i]))
			return order[i];
	return EDGE_OPT_ISA_NONE;
}

const char *edge_opt_isa_name(int isa)
{
	for (size_t i = 0; i < sizeof(isa_names) / sizeof(isa_names[0]); i++)
		if (isa_names[i].isa == isa)
			return isa_names[i].name;
	return NULL;
}

/* The level from the environment (EDGE_INFER_ISA) if the CPU can run it,
 * else the best one. An unusable request silently keeps the best level:
 * the library never prints, and reference output is identical anyway. */
static int initial_isa(void)
{
	const char *env = getenv("EDGE_INFER_ISA");
	if (env && *env)
		for (size_t i = 0; i < sizeof(isa_names) / sizeof(isa_names[0]); i++)
			if (strcmp(env, isa_names[i].name) == 0 && edge_opt_isa_supported(isa_names[i].isa))
				return isa_names[i].isa;
	return edge_opt_isa_best();
}

int edge_opt_isa_current(void)
{
	int isa = __atomic_load_n(&active_isa, __ATOMIC_ACQUIRE);
	if (isa < 0) {
		isa = initial_isa();
		__atomic_store_n(&active_isa, isa, __ATOMIC_RELEASE);
	}
	return isa;
}

int edge_opt_set_isa(int isa)
{
	if (!edge_opt_isa_name(isa))
		return -EINVAL;
	if (!edge_opt_isa_supported(isa))
		return -ENOTSUP;
	__atomic_store_n(&active_isa, isa, __ATOMIC_RELEASE);
	return 0;
}

const char *edge_opt_describe(void)
{
	int isa = edge_opt_isa_current();
	for (size_t i = 0; i < sizeof(isa_names) / sizeof(isa_names[0]); i++)
		if (isa_names[i].isa == isa)
			return isa_names[i].describe;
	return "unknown";
}

int edge_opt_prepare(edge_op_node *node, edge_prep_ctx *ctx)
{
	const edge__opt_isa_ops *ops = ops_for(edge_opt_isa_current());
	node->opt_prep = NULL;
	if (!ops || !node->prep || node->n_inputs < 1 || node->n_outputs < 1 || !node->inputs[0] ||
	    !node->outputs[0])
		return 0;
	const int two = node->n_inputs >= 2 && node->inputs[1];
	switch (node->builtin) {
	case EDGE_OP_CONV_2D: return !two ? 0 : edge__opt_prepare_conv(node, ctx, ops);
	case EDGE_OP_DEPTHWISE_CONV_2D: return !two ? 0 : edge__opt_prepare_dw(node, ctx, ops);
	case EDGE_OP_FULLY_CONNECTED: return !two ? 0 : edge__opt_prepare_fc(node, ctx, ops);
	case EDGE_OP_ADD:
	case EDGE_OP_SUB: return !two ? 0 : edge__opt_prepare_add(node, ctx, ops);
	case EDGE_OP_PAD:
	case EDGE_OP_PADV2: return edge__opt_prepare_pad(node, ctx, ops);
	default: return 0;
	}
}

int edge_opt_eval(edge_op_node *node)
{
	const edge__opt_node *o = node->opt_prep;
	if (!o || o->ops != ops_for(edge_opt_isa_current()))
		return 0;
	const int8_t *in = node->inputs[0]->data;
	int8_t *out = node->outputs[0]->data;
	switch (o->kind) {
	case EDGE__OPT_CONV:
	case EDGE__OPT_FC:
		/* rows live in the context's arena scratch */
		if (!node->scratch || node->scratch_bytes < o->rowbuf_bytes)
			return 0;
		if (o->kind == EDGE__OPT_CONV)
			edge__opt_run_conv(o, in, out, node->scratch);
		else
			edge__opt_run_fc(o, in, out, node->scratch);
		return 1;
	case EDGE__OPT_DW: edge__opt_run_dw(o, in, out); return 1;
	case EDGE__OPT_PAD: edge__opt_run_pad(o, node); return 1;
	case EDGE__OPT_ADD: o->ops->add(&o->add, in, node->inputs[1]->data, out, o->n); return 1;
	default: return 0;
	}
}

size_t edge_opt_node_bytes(const edge_op_node *node)
{
	const edge__opt_node *o = node ? node->opt_prep : NULL;
	return o ? o->bytes : 0;
}
