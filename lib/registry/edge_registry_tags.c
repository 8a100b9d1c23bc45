/* Node tags: syntax, the joined set kept in edge_node_info, and the rows of
 * table node_tag (schema 8; one row per device and tag, WITHOUT ROWID, with
 * an index by tag). */
#include "edge_registry_internal.h"

#include <assert.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char tags_of_sql[] = "SELECT tag FROM node_tag WHERE device = ?1 ORDER BY tag";
static const char tag_insert_sql[] =
	"INSERT INTO node_tag (device, tag) VALUES (?1, ?2) ON CONFLICT DO NOTHING";
static const char tag_delete_sql[] = "DELETE FROM node_tag WHERE device = ?1 AND tag = ?2";

bool edge_registry_tag_valid(const char *tag)
{
	size_t len;

	if (!tag)
		return false;
	len = strlen(tag);
	if (len == 0 || len > EDGE_REGISTRY_TAG_MAX)
		return false;
	/* ',' joins tags in edge_node_info, ':' separates "tag:T" targets:
	 * neither may appear; the set below has no such character. */
	return strspn(tag, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") ==
	       len;
}

unsigned edge_registry_tags_split(char *buf, const char **parts, unsigned max)
{
	unsigned n = 0;
	char *p = buf;

	if (!buf || !*buf)
		return 0;
	while (n < max) {
		char *comma = strchr(p, ',');

		parts[n++] = p;
		if (!comma)
			break;
		*comma = '\0';
		p = comma + 1;
	}
	return n;
}

bool edge_registry_has_tag(const struct edge_node_info *node, const char *tag)
{
	const char *p;
	size_t len;

	if (!node || !tag || !*tag)
		return false;
	len = strlen(tag);
	for (p = node->tags; *p;) {
		size_t part = strcspn(p, ",");

		if (part == len && memcmp(p, tag, len) == 0)
			return true;
		p += part;
		if (*p == ',')
			p++;
	}
	return false;
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int edge__tags_join(const char *const *tags, unsigned n, char *out, size_t cap,
		    unsigned *n_out)
{
	const char *sorted[EDGE_REGISTRY_TAGS_MAX];
	unsigned k = 0;
	size_t used = 0;

	if ((n > 0 && !tags) || !out || cap == 0)
		return -EINVAL;
	/* Validate everything before the size check: a bad tag is -EINVAL
	 * whatever the count. */
	for (unsigned i = 0; i < n; i++)
		if (!edge_registry_tag_valid(tags[i]))
			return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		bool dup = false;

		for (unsigned j = 0; j < k && !dup; j++)
			dup = strcmp(sorted[j], tags[i]) == 0;
		if (dup)
			continue;
		if (k == EDGE_REGISTRY_TAGS_MAX)
			return -E2BIG;
		sorted[k++] = tags[i];
	}
	qsort(sorted, k, sizeof sorted[0], by_str);
	out[0] = '\0';
	for (unsigned i = 0; i < k; i++) {
		int w = snprintf(out + used, cap - used, "%s%s", i ? "," : "", sorted[i]);

		if (w < 0 || (size_t)w >= cap - used)
			return -ENOSPC;
		used += (size_t)w;
	}
	if (n_out)
		*n_out = k;
	return 0;
}

static int step_done(edge_store_conn *conn, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	return rc == SQLITE_DONE ? 0 : (edge_store_conn_error(conn, rc) ?: EDGE_ESTORE);
}

int edge__registry_read_tags(edge_store_conn *conn, const char *id, char *out, size_t cap,
			     unsigned *n_out)
{
	sqlite3_stmt *st;
	size_t used = 0;
	unsigned n = 0;
	int rc = edge_store_conn_prepare(conn, tags_of_sql, &st);

	assert(cap >= EDGE_REGISTRY_TAGS_TEXT_MAX);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	out[0] = '\0';
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		int w;

		/* Only what this build could have written is kept: a row that
		 * is not a tag, or one beyond the limit, is left out. */
		if (!edge_registry_tag_valid(t) || n == EDGE_REGISTRY_TAGS_MAX)
			continue;
		w = snprintf(out + used, cap - used, "%s%s", n ? "," : "", t);
		assert(w > 0 && (size_t)w < cap - used); /* cap holds TAGS_MAX tags */
		used += (size_t)w;
		n++;
	}
	if (rc != SQLITE_DONE)
		return edge_store_conn_error(conn, rc) ?: EDGE_ESTORE;
	*n_out = n;
	return 0;
}

static int tags_op(edge_store_conn *conn, const char *id, const char *const *tags, unsigned n,
		   const char *sql, char *out, size_t out_cap, unsigned *n_out)
{
	char joined[EDGE_REGISTRY_TAGS_TEXT_MAX];
	unsigned count;
	int rc;

	if (!conn || !id || (n > 0 && !tags) || (out && out_cap < EDGE_REGISTRY_TAGS_TEXT_MAX))
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		if (!edge_registry_tag_valid(tags[i]))
			return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		sqlite3_stmt *st;

		rc = edge_store_conn_prepare(conn, sql, &st);
		if (rc < 0)
			return rc;
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, tags[i], -1, SQLITE_STATIC);
		rc = step_done(conn, st);
		if (rc < 0)
			return rc;
	}
	/* The limit is checked on what the store holds now, so that two adds
	 * racing through the queue cannot pass it together. */
	{
		sqlite3_stmt *st;
		int64_t total = 0;

		rc = edge_store_conn_prepare(conn,
					     "SELECT count(*) FROM node_tag WHERE device = ?1", &st);
		if (rc < 0)
			return rc;
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		rc = edge_store_conn_step_ints(conn, st, &total, 1);
		if (rc < 0)
			return rc;
		if (total > EDGE_REGISTRY_TAGS_MAX)
			return -E2BIG;
	}
	rc = edge__registry_read_tags(conn, id, joined, sizeof joined, &count);
	if (rc < 0)
		return rc;
	if (out)
		snprintf(out, out_cap, "%s", joined);
	if (n_out)
		*n_out = count;
	return 0;
}

int edge_registry_tags_op_add(edge_store_conn *conn, const char *id, const char *const *tags,
			      unsigned n, char *out, size_t out_cap, unsigned *n_out)
{
	return tags_op(conn, id, tags, n, tag_insert_sql, out, out_cap, n_out);
}

int edge_registry_tags_op_remove(edge_store_conn *conn, const char *id,
				 const char *const *tags, unsigned n, char *out, size_t out_cap,
				 unsigned *n_out)
{
	return tags_op(conn, id, tags, n, tag_delete_sql, out, out_cap, n_out);
}
