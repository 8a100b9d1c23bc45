/* Arena planner.
 *
 * Every non-constant tensor that the graph uses gets a lifetime in
 * operator steps: from its producer (graph inputs: step 0) to its last
 * consumer (graph outputs and variable tensors: the last step). Each
 * operator's scratch buffer lives during that operator only. Items are
 * placed largest first, each at the lowest 16-byte aligned offset that
 * does not overlap an already placed item with an overlapping lifetime
 * (first fit into gaps), the strategy of TFLM's greedy planner.
 *
 * The optimised kernels may ask for a larger scratch than the reference
 * kernel (row buffers). Those requests are placed afterwards, into the gaps
 * of the finished plan where possible; they may grow the arena by at most
 * max(1 KiB, 1/8) over what the reference kernels need. A request that
 * does not fit keeps the reference scratch, and that operator's optimised
 * kernel declines (the reference kernel runs). So the arena stays close to
 * the reference plan, which is well below TFLM's for the shared models.
 *
 * An operator's inputs and outputs are live at the same step, so no
 * operator works in place. RESHAPE is planned as a copy, not as an alias
 * of its input: its output lives in its own block. That keeps the
 * interpreter free of aliasing rules and costs one extra buffer only
 * while the RESHAPE runs; every shared model still plans below TFLM. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "infer_model.h"

struct item {
	size_t bytes;
	int first, last;  /* inclusive operator steps */
	size_t offset;
	size_t *dst;      /* where the offset is recorded */
};

static int by_size_desc(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	return x->dst < y->dst ? -1 : x->dst > y->dst;
}

static int by_offset(const void *a, const void *b)
{
	const struct item *x = *(const struct item *const *)a, *y = *(const struct item *const *)b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static size_t align_up(size_t v)
{
	return (v + EDGE__ARENA_ALIGN - 1) & ~(size_t)(EDGE__ARENA_ALIGN - 1);
}

int edge__plan(struct edge_infer_model *m, struct edge_infer_error *err)
{
	int n_t = m->n_tensors, n_ops = m->n_ops, last_step = n_ops - 1;
	int *first = malloc(((size_t)n_t + 1) * sizeof *first);
	int *last = malloc(((size_t)n_t + 1) * sizeof *last);
	struct item *items = calloc((size_t)n_t + (size_t)n_ops + 1, sizeof *items);
	struct item **live = calloc((size_t)n_t + (size_t)n_ops + 1, sizeof *live);
	int rc = 0;
	if (!first || !last || !items || !live) {
		rc = EDGE_INFER_ENOMEM;
		goto out;
	}
	for (int t = 0; t < n_t; t++) {
		first[t] = INT32_MAX;
		last[t] = -1;
		m->arena_offset[t] = SIZE_MAX;
	}
	for (int i = 0; i < m->n_inputs; i++) {
		first[m->inputs[i]] = 0;
		last[m->inputs[i]] = 0;
	}
	for (int oi = 0; oi < n_ops; oi++) {
		const edge_op_node *n = &m->nodes[oi];
		for (int i = 0; i < n->n_inputs; i++) {
			int t = m->io[oi].in[i];
			if (t < 0)
				continue;
			if (first[t] > oi)
				first[t] = oi;
			if (last[t] < oi)
				last[t] = oi;
		}
		for (int o = 0; o < n->n_outputs; o++) {
			int t = m->io[oi].out[o];
			if (first[t] > oi)
				first[t] = oi;
			if (last[t] < oi)
				last[t] = oi;
		}
	}
	for (int i = 0; i < m->n_outputs; i++)
		last[m->outputs[i]] = last_step;

	size_t n_items = 0;
	for (int t = 0; t < n_t; t++) {
		const edge_tensor *tn = &m->tensors[t];
		if (tn->is_const || last[t] < 0)
			continue;
		struct item *it = &items[n_items++];
		it->bytes = tn->bytes;
		it->first = tn->is_variable ? 0 : first[t];
		it->last = tn->is_variable ? last_step : last[t];
		it->dst = &m->arena_offset[t];
	}
	for (int oi = 0; oi < n_ops; oi++) {
		m->scratch_offset[oi] = SIZE_MAX;
		if (m->nodes[oi].scratch_bytes == 0)
			continue;
		struct item *it = &items[n_items++];
		it->bytes = m->nodes[oi].scratch_bytes;
		it->first = it->last = oi;
		it->dst = &m->scratch_offset[oi];
	}
	qsort(items, n_items, sizeof *items, by_size_desc);

	size_t total = 0;
	for (size_t i = 0; i < n_items; i++) {
		struct item *it = &items[i];
		if (it->bytes > SIZE_MAX / 4) {
			rc = EDGE_INFER_ELIMIT;
			goto out;
		}
		size_t n_live = 0;
		for (size_t j = 0; j < i; j++)
			if (items[j].first <= it->last && it->first <= items[j].last)
				live[n_live++] = &items[j];
		qsort(live, n_live, sizeof *live, by_offset);
		size_t off = 0;
		for (size_t j = 0; j < n_live; j++) {
			if (off + it->bytes <= live[j]->offset)
				break;
			size_t end = align_up(live[j]->offset + live[j]->bytes);
			if (end > off)
				off = end;
		}
		it->offset = off;
		*it->dst = off;
		if (off + it->bytes > total)
			total = off + it->bytes;
	}
	m->arena_bytes = align_up(total);

	size_t growth = m->arena_bytes / 8 > 1024 ? m->arena_bytes / 8 : 1024;
	size_t limit = align_up(m->arena_bytes + growth);
	for (int oi = 0; oi < n_ops; oi++) {
		size_t want = m->opt_scratch[oi];
		if (want <= m->nodes[oi].scratch_bytes)
			continue;
		size_t n_live = 0;
		for (size_t j = 0; j < n_items; j++)
			if (items[j].first <= oi && oi <= items[j].last &&
			    items[j].dst != &m->scratch_offset[oi])
				live[n_live++] = &items[j];
		qsort(live, n_live, sizeof *live, by_offset);
		size_t off = 0;
		for (size_t j = 0; j < n_live; j++) {
			if (off + want <= live[j]->offset)
				break;
			size_t end = align_up(live[j]->offset + live[j]->bytes);
			if (end > off)
				off = end;
		}
		if (want <= limit && off <= limit - want) {
			m->scratch_offset[oi] = off;
			m->nodes[oi].scratch_bytes = want;
			if (off + want > m->arena_bytes)
				m->arena_bytes = align_up(off + want);
		}
	}
out:
	if (rc && err && err->code == 0) {
		err->code = rc;
		strcpy(err->msg, rc == EDGE_INFER_ENOMEM ? "out of memory while planning the arena"
							 : "arena plan exceeds the address space");
	}
	free(first);
	free(last);
	free(items);
	free(live);
	return rc;
}
