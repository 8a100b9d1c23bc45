/* Signed model packages: the container reader, the manifest's strict
 * parser and canonical encoder, the self-test input and CRC-32C
 * (proto/ota/package.md is the normative text).
 *
 * The parser reads "scale" numbers with edge_decimal_read (exact, no
 * strtod), so a node may parse manifests; the encoder, the gateway's, formats them with
 * snprintf (in newlib nano it links the allocator: keep it out of
 * firmware). */
#include "edge_ota_package.h"

#include <errno.h>
#include <float.h>
#include <stdio.h>
#include <string.h>

#include "edge_decimal.h"
#include "edge_json.h"
#include "edge_bytes.h"
#include "edge_msg_internal.h"

/* Tokens the manifest parser holds (20 bytes each on the stack): a full
 * manifest (64 ops, 8 tensors of rank 6) needs about 220. */
#define OTA_MANIFEST_TOKENS 256
/* Top-level object, "inputs" array, a tensor, its "shape", a dimension. */
#define OTA_MANIFEST_DEPTH 5
#define OTA_SIG_ENTRY_HEAD 36 /* alg, 0, u16 length, key id */

/* ----------------------------------------------------------------- CRC-32C */

/* One table lookup a byte (1 KB of flash): every OTA frame is checked with
 * it, on the gateway for each chunk of each node, on a node for each chunk
 * it receives. Entry i is the reflected polynomial 0x82F63B78 applied to i
 * for eight bits. */
static const uint32_t crc32c_table[256] = {
	0x00000000u, 0xf26b8303u, 0xe13b70f7u, 0x1350f3f4u, 0xc79a971fu, 0x35f1141cu,
	0x26a1e7e8u, 0xd4ca64ebu, 0x8ad958cfu, 0x78b2dbccu, 0x6be22838u, 0x9989ab3bu,
	0x4d43cfd0u, 0xbf284cd3u, 0xac78bf27u, 0x5e133c24u, 0x105ec76fu, 0xe235446cu,
	0xf165b798u, 0x030e349bu, 0xd7c45070u, 0x25afd373u, 0x36ff2087u, 0xc494a384u,
	0x9a879fa0u, 0x68ec1ca3u, 0x7bbcef57u, 0x89d76c54u, 0x5d1d08bfu, 0xaf768bbcu,
	0xbc267848u, 0x4e4dfb4bu, 0x20bd8edeu, 0xd2d60dddu, 0xc186fe29u, 0x33ed7d2au,
	0xe72719c1u, 0x154c9ac2u, 0x061c6936u, 0xf477ea35u, 0xaa64d611u, 0x580f5512u,
	0x4b5fa6e6u, 0xb93425e5u, 0x6dfe410eu, 0x9f95c20du, 0x8cc531f9u, 0x7eaeb2fau,
	0x30e349b1u, 0xc288cab2u, 0xd1d83946u, 0x23b3ba45u, 0xf779deaeu, 0x05125dadu,
	0x1642ae59u, 0xe4292d5au, 0xba3a117eu, 0x4851927du, 0x5b016189u, 0xa96ae28au,
	0x7da08661u, 0x8fcb0562u, 0x9c9bf696u, 0x6ef07595u, 0x417b1dbcu, 0xb3109ebfu,
	0xa0406d4bu, 0x522bee48u, 0x86e18aa3u, 0x748a09a0u, 0x67dafa54u, 0x95b17957u,
	0xcba24573u, 0x39c9c670u, 0x2a993584u, 0xd8f2b687u, 0x0c38d26cu, 0xfe53516fu,
	0xed03a29bu, 0x1f682198u, 0x5125dad3u, 0xa34e59d0u, 0xb01eaa24u, 0x42752927u,
	0x96bf4dccu, 0x64d4cecfu, 0x77843d3bu, 0x85efbe38u, 0xdbfc821cu, 0x2997011fu,
	0x3ac7f2ebu, 0xc8ac71e8u, 0x1c661503u, 0xee0d9600u, 0xfd5d65f4u, 0x0f36e6f7u,
	0x61c69362u, 0x93ad1061u, 0x80fde395u, 0x72966096u, 0xa65c047du, 0x5437877eu,
	0x4767748au, 0xb50cf789u, 0xeb1fcbadu, 0x197448aeu, 0x0a24bb5au, 0xf84f3859u,
	0x2c855cb2u, 0xdeeedfb1u, 0xcdbe2c45u, 0x3fd5af46u, 0x7198540du, 0x83f3d70eu,
	0x90a324fau, 0x62c8a7f9u, 0xb602c312u, 0x44694011u, 0x5739b3e5u, 0xa55230e6u,
	0xfb410cc2u, 0x092a8fc1u, 0x1a7a7c35u, 0xe811ff36u, 0x3cdb9bddu, 0xceb018deu,
	0xdde0eb2au, 0x2f8b6829u, 0x82f63b78u, 0x709db87bu, 0x63cd4b8fu, 0x91a6c88cu,
	0x456cac67u, 0xb7072f64u, 0xa457dc90u, 0x563c5f93u, 0x082f63b7u, 0xfa44e0b4u,
	0xe9141340u, 0x1b7f9043u, 0xcfb5f4a8u, 0x3dde77abu, 0x2e8e845fu, 0xdce5075cu,
	0x92a8fc17u, 0x60c37f14u, 0x73938ce0u, 0x81f80fe3u, 0x55326b08u, 0xa759e80bu,
	0xb4091bffu, 0x466298fcu, 0x1871a4d8u, 0xea1a27dbu, 0xf94ad42fu, 0x0b21572cu,
	0xdfeb33c7u, 0x2d80b0c4u, 0x3ed04330u, 0xccbbc033u, 0xa24bb5a6u, 0x502036a5u,
	0x4370c551u, 0xb11b4652u, 0x65d122b9u, 0x97baa1bau, 0x84ea524eu, 0x7681d14du,
	0x2892ed69u, 0xdaf96e6au, 0xc9a99d9eu, 0x3bc21e9du, 0xef087a76u, 0x1d63f975u,
	0x0e330a81u, 0xfc588982u, 0xb21572c9u, 0x407ef1cau, 0x532e023eu, 0xa145813du,
	0x758fe5d6u, 0x87e466d5u, 0x94b49521u, 0x66df1622u, 0x38cc2a06u, 0xcaa7a905u,
	0xd9f75af1u, 0x2b9cd9f2u, 0xff56bd19u, 0x0d3d3e1au, 0x1e6dcdeeu, 0xec064eedu,
	0xc38d26c4u, 0x31e6a5c7u, 0x22b65633u, 0xd0ddd530u, 0x0417b1dbu, 0xf67c32d8u,
	0xe52cc12cu, 0x1747422fu, 0x49547e0bu, 0xbb3ffd08u, 0xa86f0efcu, 0x5a048dffu,
	0x8ecee914u, 0x7ca56a17u, 0x6ff599e3u, 0x9d9e1ae0u, 0xd3d3e1abu, 0x21b862a8u,
	0x32e8915cu, 0xc083125fu, 0x144976b4u, 0xe622f5b7u, 0xf5720643u, 0x07198540u,
	0x590ab964u, 0xab613a67u, 0xb831c993u, 0x4a5a4a90u, 0x9e902e7bu, 0x6cfbad78u,
	0x7fab5e8cu, 0x8dc0dd8fu, 0xe330a81au, 0x115b2b19u, 0x020bd8edu, 0xf0605beeu,
	0x24aa3f05u, 0xd6c1bc06u, 0xc5914ff2u, 0x37faccf1u, 0x69e9f0d5u, 0x9b8273d6u,
	0x88d28022u, 0x7ab90321u, 0xae7367cau, 0x5c18e4c9u, 0x4f48173du, 0xbd23943eu,
	0xf36e6f75u, 0x0105ec76u, 0x12551f82u, 0xe03e9c81u, 0x34f4f86au, 0xc69f7b69u,
	0xd5cf889du, 0x27a40b9eu, 0x79b737bau, 0x8bdcb4b9u, 0x988c474du, 0x6ae7c44eu,
	0xbe2da0a5u, 0x4c4623a6u, 0x5f16d052u, 0xad7d5351u,
};

uint32_t edge_ota_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	crc = ~crc;
	while (len--)
		crc = (crc >> 8) ^ crc32c_table[(crc ^ *p++) & 0xFFu];
	return ~crc;
}

/* ------------------------------------------------------------ self-test input */

void edge_ota_selftest_input(uint32_t seed, uint8_t *out, size_t n)
{
	uint32_t x = seed;
	size_t i;

	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		out[i] = (uint8_t)(x & 0xffu);
	}
}

/* --------------------------------------------------------------- container */

/* Reject a container: field is a name ("manifest_size") or, with
 * index >= 0, "sigs[index]" followed by sub (".alg") if sub is not NULL. */
static int container_reject(struct edge_msg_error *err, enum edge_msg_reject reason,
			    const char *field, long index, const char *sub, size_t offset)
{
	if (err) {
		char name[sizeof err->field];
		size_t n = 0;

		while (*field && n + 1 < sizeof name)
			name[n++] = *field++;
		if (index >= 0 && n + 4 < sizeof name) {
			name[n++] = '[';
			/* At most EDGE_OTA_SIGS_MAX entries: one digit. */
			name[n++] = (char)('0' + index % 10);
			name[n++] = ']';
		}
		while (sub && *sub && n + 1 < sizeof name)
			name[n++] = *sub++;
		name[n] = '\0';
		return edge_msg_reject_offset(err, reason, name, offset);
	}
	return -EPROTO;
}

/* The entries of the signature block at p[0..s) (s >= 4, in the buffer);
 * base is its offset in the package, for error offsets. */
static int parse_sig_block(const uint8_t *p, size_t s, size_t base,
			   struct edge_ota_container *out, struct edge_msg_error *err)
{
	size_t at = 4;
	unsigned i, count = p[0];

	if (count == 0 || count > EDGE_OTA_SIGS_MAX)
		return container_reject(err, EDGE_MSG_BAD_SIGNATURE_BLOCK, "sig_count", -1,
					NULL, base);
	if (p[1] || p[2] || p[3])
		return container_reject(err, EDGE_MSG_BAD_SIGNATURE_BLOCK, "sig_block", -1,
					NULL, base + 1);
	for (i = 0; i < count; i++) {
		struct edge_ota_sig *sig = &out->sigs[i];
		size_t n;

		if (s - at < OTA_SIG_ENTRY_HEAD)
			return container_reject(err, EDGE_MSG_BAD_SIGNATURE_BLOCK, "sigs", i,
						NULL, base + at);
		sig->alg = p[at];
		if (sig->alg != EDGE_OTA_SIG_ED25519 && sig->alg != EDGE_OTA_SIG_ECDSA_P256)
			return container_reject(err, EDGE_MSG_BAD_SIGNATURE_BLOCK, "sigs", i,
						".alg", base + at);
		if (p[at + 1])
			return container_reject(err, EDGE_MSG_BAD_SIGNATURE_BLOCK, "sigs", i,
						".reserved", base + at + 1);
		n = edge__le16(p + at + 2);
		/* Ed25519 signatures have one size; DER ECDSA varies (8..72). */
		if (n == 0 || n > EDGE_OTA_SIG_MAX ||
		    (sig->alg == EDGE_OTA_SIG_ED25519 && n != 64))
			return container_reject(err, EDGE_MSG_BAD_SIGNATURE_BLOCK, "sigs", i,
						".length", base + at + 2);
		memcpy(sig->key_id, p + at + 4, EDGE_OTA_KEY_ID_LEN);
		at += OTA_SIG_ENTRY_HEAD;
		if (s - at < n)
			return container_reject(err, EDGE_MSG_BAD_SIGNATURE_BLOCK, "sigs", i,
						".signature", base + at);
		sig->sig = p + at;
		sig->sig_len = n;
		at += n;
	}
	if (at != s)
		return container_reject(err, EDGE_MSG_BAD_SIGNATURE_BLOCK, "sig_block", -1,
					NULL, base + at);
	out->n_sigs = count;
	return 0;
}

int edge_ota_container_parse(const void *buf, size_t len, struct edge_ota_container *out,
			     struct edge_msg_error *err)
{
	const uint8_t *p = buf;
	uint64_t m, s, n, head;
	size_t magic_len = len < 8 ? len : 8;

	memset(out, 0, sizeof *out);
	if (err) {
		err->reason = EDGE_MSG_OK;
		err->field[0] = '\0';
		err->offset = 0;
	}
	/* A short prefix that is already wrong is not a package at all. */
	if ((!p && len) || (p && memcmp(p, EDGE_OTA_MAGIC, magic_len) != 0))
		return container_reject(err, EDGE_MSG_BAD_MAGIC, "magic", -1, NULL, 0);
	if (len < EDGE_OTA_HEADER_SIZE)
		return container_reject(err, EDGE_MSG_TRUNCATED, "header", -1, NULL, len);
	/* The version before the rest: a newer format says so. */
	if (edge__le16(p + 8) != EDGE_OTA_FORMAT)
		return container_reject(err, EDGE_MSG_UNSUPPORTED_VERSION, "version", -1,
					NULL, 8);
	if (edge__le16(p + 10) != EDGE_OTA_HEADER_SIZE)
		return container_reject(err, EDGE_MSG_BAD_HEADER, "header_size", -1, NULL,
					10);
	if (edge__le32(p + 28) != edge_ota_crc32c(0, p, 28))
		return container_reject(err, EDGE_MSG_BAD_HEADER, "crc", -1, NULL, 28);
	m = edge__le32(p + 12);
	s = edge__le32(p + 16);
	n = edge__le64(p + 20);
	if (m == 0)
		return container_reject(err, EDGE_MSG_BAD_HEADER, "manifest_size", -1,
					NULL, 12);
	if (m > EDGE_OTA_MANIFEST_MAX)
		return container_reject(err, EDGE_MSG_TOO_LARGE, "manifest_size", -1, NULL,
					12);
	if (s < 4)
		return container_reject(err, EDGE_MSG_BAD_HEADER, "sig_block_size", -1,
					NULL, 16);
	if (s > EDGE_OTA_SIG_BLOCK_MAX)
		return container_reject(err, EDGE_MSG_TOO_LARGE, "sig_block_size", -1,
					NULL, 16);
	if (n == 0)
		return container_reject(err, EDGE_MSG_BAD_HEADER, "model_size", -1, NULL,
					20);
	if (n > EDGE_OTA_MODEL_MAX)
		return container_reject(err, EDGE_MSG_TOO_LARGE, "model_size", -1, NULL,
					20);

	/* All three sizes are bounded now: no sum below can overflow. */
	head = EDGE_OTA_HEADER_SIZE + m + s;
	if (len < EDGE_OTA_HEADER_SIZE + m)
		return container_reject(err, EDGE_MSG_TRUNCATED, "manifest", -1, NULL, len);
	if (len < head)
		return container_reject(err, EDGE_MSG_TRUNCATED, "sig_block", -1, NULL, len);
	if (len > head + n)
		return container_reject(err, EDGE_MSG_TRAILING_BYTES, "", -1, NULL,
					(size_t)(head + n));
	if (len != head && len != head + n)
		return container_reject(err, EDGE_MSG_TRUNCATED, "model", -1, NULL, len);

	out->manifest = p + EDGE_OTA_HEADER_SIZE;
	out->manifest_len = (size_t)m;
	out->sig_block = out->manifest + m;
	out->sig_block_len = (size_t)s;
	out->model_len = n;
	if (parse_sig_block(out->sig_block, out->sig_block_len,
			    EDGE_OTA_HEADER_SIZE + (size_t)m, out, err) < 0) {
		memset(out, 0, sizeof *out);
		return -EPROTO;
	}
	if (len == head + n)
		out->model = out->sig_block + s;
	return 0;
}

/* ---------------------------------------------------------------- manifest */

static const char *const tensor_types[] = { "int8", "uint8", "int16", "float32" };

static int op_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int tensor_type_ok(const char *s)
{
	size_t i;

	for (i = 0; i < EDGE_N_ELEMS(tensor_types); i++)
		if (strcmp(s, tensor_types[i]) == 0)
			return 1;
	return 0;
}

static int scale_ok(double v)
{
	return v >= 0 && v <= DBL_MAX; /* false for NaN and infinities */
}

static struct edge_msg_path mpath(const char *key, long index, const char *key2,
				  long index2)
{
	struct edge_msg_path p = { key, index, key2, index2 };

	return p;
}

/* Token of obj's member p->key2 (or p->key at top level): >= 0, -ENOENT
 * when absent and optional, -EPROTO (missing_field) when required. */
static int member(struct edge_msg_ctx *c, int obj, const struct edge_msg_path *p,
		  const char *key, int required)
{
	int t = edge_json_obj_get(&c->doc, obj, key);

	if (t >= 0)
		return t;
	if (required)
		return edge_msg_reject_path(c, EDGE_MSG_MISSING_FIELD, p, -1);
	return -ENOENT;
}

/* String token t of class ok (1..cap-1 characters) into out[cap]. */
static int read_class(struct edge_msg_ctx *c, int t, const struct edge_msg_path *p,
		      char *out, size_t cap, int (*ok)(char))
{
	enum edge_msg_reject r;
	size_t n;

	if (edge_msg_read_string(c, t, p, out, cap, &n) < 0)
		return -EPROTO;
	r = edge_msg_check_class(out, n, cap - 1, ok);
	if (r != EDGE_MSG_OK)
		return edge_msg_reject_path(c, r, p, t);
	return 0;
}

static int get_class(struct edge_msg_ctx *c, const char *key, char *out, size_t cap,
		     int (*ok)(char))
{
	struct edge_msg_path p = mpath(key, -1, NULL, -1);
	int t = member(c, 0, &p, key, 1);

	return t < 0 ? t : read_class(c, t, &p, out, cap, ok);
}

static int get_hash(struct edge_msg_ctx *c, int obj, const struct edge_msg_path *p,
		    const char *key, char out[EDGE_MSG_SHA256_HEX + 1])
{
	int t = member(c, obj, p, key, 1);

	if (t < 0)
		return t;
	if (edge_json_type_of(&c->doc, t) != EDGE_JSON_STRING)
		return edge_msg_reject_path(c, EDGE_MSG_WRONG_TYPE, p, t);
	if (edge_json_get_str(&c->doc, t, out, EDGE_MSG_SHA256_HEX + 1, NULL) < 0 ||
	    !edge_msg_sha256_ok(out))
		return edge_msg_reject_path(c, EDGE_MSG_BAD_HASH, p, t);
	return 0;
}

/* Array member of obj at p: its token, or -EPROTO for wrong_type,
 * too_many_items, and (when min_items) an empty array as missing_field
 * of its first element. */
static int get_array(struct edge_msg_ctx *c, int obj, struct edge_msg_path *p,
		     const char *key, unsigned max_items, int min_items)
{
	int t = member(c, obj, p, key, 1);

	if (t < 0)
		return t;
	if (edge_json_type_of(&c->doc, t) != EDGE_JSON_ARRAY)
		return edge_msg_reject_path(c, EDGE_MSG_WRONG_TYPE, p, t);
	if (c->doc.toks[t].size > max_items)
		return edge_msg_reject_path(c, EDGE_MSG_TOO_MANY_ITEMS, p, t);
	if (min_items && c->doc.toks[t].size == 0) {
		struct edge_msg_path first = *p;

		if (first.key2)
			first.index2 = 0;
		else
			first.index = 0;
		return edge_msg_reject_path(c, EDGE_MSG_MISSING_FIELD, &first, t);
	}
	return t;
}

/* Number token t, a finite double >= 0 (out_of_range: negative, above the
 * largest double, or more than 19 significant digits). */
static int read_scale(struct edge_msg_ctx *c, int t, const struct edge_msg_path *p,
		      double *out)
{
	const struct edge_json_tok *tok;

	if (edge_json_type_of(&c->doc, t) != EDGE_JSON_NUMBER)
		return edge_msg_reject_path(c, EDGE_MSG_WRONG_TYPE, p, t);
	tok = &c->doc.toks[t];
	if (edge_decimal_read(c->doc.buf + tok->start, tok->end - tok->start, out) < 0 ||
	    !scale_ok(*out))
		return edge_msg_reject_path(c, EDGE_MSG_OUT_OF_RANGE, p, t);
	return 0;
}

static int parse_tensor(struct edge_msg_ctx *c, int obj, const char *key, long i,
			struct edge_ota_tensor *ts)
{
	struct edge_msg_path p = mpath(key, i, NULL, -1);
	int64_t zp;
	uint64_t v;
	int t, e;

	if (edge_json_type_of(&c->doc, obj) != EDGE_JSON_OBJECT)
		return edge_msg_reject_path(c, EDGE_MSG_WRONG_TYPE, &p, obj);

	p.key2 = "type";
	t = member(c, obj, &p, "type", 1);
	if (t < 0 || read_class(c, t, &p, ts->type, sizeof ts->type, edge_msg_name_char) < 0)
		return -EPROTO;
	if (!tensor_type_ok(ts->type))
		return edge_msg_reject_path(c, EDGE_MSG_BAD_ENUM, &p, t);

	p.key2 = "shape";
	t = get_array(c, obj, &p, "shape", EDGE_OTA_RANK_MAX, 1);
	if (t < 0)
		return -EPROTO;
	for (e = edge_json_first(&c->doc, t); e >= 0; e = edge_json_next(&c->doc, e)) {
		p.index2 = (long)ts->rank;
		if (edge_msg_read_uint(c, e, &p, 1, INT32_MAX, &v) < 0)
			return -EPROTO;
		ts->shape[ts->rank++] = (int32_t)v;
	}
	p.index2 = -1;

	p.key2 = "scale";
	t = member(c, obj, &p, "scale", 1);
	if (t < 0 || read_scale(c, t, &p, &ts->scale) < 0)
		return -EPROTO;

	p.key2 = "zero_point";
	t = member(c, obj, &p, "zero_point", 1);
	if (t < 0 || edge_msg_check_integer(c, t, &p) < 0)
		return -EPROTO;
	if (edge_json_get_int(&c->doc, t, INT32_MIN, INT32_MAX, &zp) < 0)
		return edge_msg_reject_path(c, EDGE_MSG_OUT_OF_RANGE, &p, t);
	ts->zero_point = zp;
	return 0;
}

static int parse_tensors(struct edge_msg_ctx *c, const char *key,
			 struct edge_ota_tensor *ts, unsigned *n)
{
	struct edge_msg_path p = mpath(key, -1, NULL, -1);
	int t = get_array(c, 0, &p, key, EDGE_OTA_TENSORS_MAX, 1), e;

	if (t < 0)
		return -EPROTO;
	for (e = edge_json_first(&c->doc, t); e >= 0; e = edge_json_next(&c->doc, e)) {
		if (parse_tensor(c, e, key, (long)*n, &ts[*n]) < 0)
			return -EPROTO;
		(*n)++;
	}
	return 0;
}

static int get_top_uint(struct edge_msg_ctx *c, const char *key, int required,
			uint64_t min, uint64_t max, uint64_t *out)
{
	struct edge_msg_path p = mpath(key, -1, NULL, -1);
	int t = member(c, 0, &p, key, required);

	if (t < 0)
		return t;
	return edge_msg_read_uint(c, t, &p, min, max, out);
}

/* Fields in the order of package.md's table (one manifest, one reason). */
static int parse_manifest_fields(struct edge_msg_ctx *c, struct edge_ota_manifest *m)
{
	struct edge_msg_path p;
	uint64_t v;
	int t, e;

	if (get_class(c, "name", m->name, sizeof m->name, edge_msg_name_char) < 0 ||
	    get_class(c, "version", m->version, sizeof m->version,
		      edge_msg_version_char) < 0 ||
	    get_top_uint(c, "counter", 1, 1, EDGE_MSG_UINT_MAX, &m->counter) < 0 ||
	    get_top_uint(c, "size", 1, 1, EDGE_OTA_MODEL_MAX, &m->size) < 0)
		return -EPROTO;
	p = mpath("sha256", -1, NULL, -1);
	if (get_hash(c, 0, &p, "sha256", m->sha256) < 0 ||
	    get_class(c, "runtime", m->runtime, sizeof m->runtime, edge_msg_name_char) < 0)
		return -EPROTO;

	p = mpath("ops", -1, NULL, -1);
	t = get_array(c, 0, &p, "ops", EDGE_OTA_OPS_MAX, 0);
	if (t < 0)
		return -EPROTO;
	for (e = edge_json_first(&c->doc, t); e >= 0; e = edge_json_next(&c->doc, e)) {
		p.index = (long)m->n_ops;
		if (read_class(c, e, &p, m->ops[m->n_ops], sizeof m->ops[0], op_char) < 0)
			return -EPROTO;
		m->n_ops++;
	}

	if (get_top_uint(c, "arena_bytes", 1, 1, UINT32_MAX, &m->arena_bytes) < 0 ||
	    parse_tensors(c, "inputs", m->inputs, &m->n_inputs) < 0 ||
	    parse_tensors(c, "outputs", m->outputs, &m->n_outputs) < 0)
		return -EPROTO;
	t = get_top_uint(c, "expires_ms", 0, 0, EDGE_MSG_UINT_MAX, &m->expires_ms);
	if (t == -EPROTO)
		return t;

	p = mpath("selftest", -1, NULL, -1);
	t = member(c, 0, &p, "selftest", 1);
	if (t < 0)
		return t;
	if (edge_json_type_of(&c->doc, t) != EDGE_JSON_OBJECT)
		return edge_msg_reject_path(c, EDGE_MSG_WRONG_TYPE, &p, t);
	p.key2 = "seed";
	e = member(c, t, &p, "seed", 1);
	if (e < 0 || edge_msg_read_uint(c, e, &p, 1, UINT32_MAX, &v) < 0)
		return -EPROTO;
	m->selftest_seed = (uint32_t)v;
	p.key2 = "output_sha256";
	return get_hash(c, t, &p, "output_sha256", m->selftest_output_sha256);
}

int edge_ota_manifest_parse(const void *buf, size_t len, struct edge_ota_manifest *out,
			    struct edge_msg_error *err)
{
	struct edge_json_tok toks[OTA_MANIFEST_TOKENS];
	struct edge_msg_path p = mpath("format", -1, NULL, -1);
	struct edge_json_error jerr;
	struct edge_msg_ctx c;
	uint64_t v;
	int t;

	memset(out, 0, sizeof *out);
	c.err = err;
	c.doc.ntoks = 0;
	if (err) {
		err->reason = EDGE_MSG_OK;
		err->field[0] = '\0';
		err->offset = 0;
	}
	if (len == 0 || !buf)
		return edge_msg_reject_offset(err, EDGE_MSG_EMPTY, "", 0);
	if (len > EDGE_OTA_MANIFEST_MAX)
		return edge_msg_reject_offset(err, EDGE_MSG_TOO_LARGE, "",
					      EDGE_OTA_MANIFEST_MAX);
	if (edge_json_parse(buf, len, toks, OTA_MANIFEST_TOKENS, OTA_MANIFEST_DEPTH, &c.doc,
			    &jerr) < 0) {
		c.doc.ntoks = 0;
		return edge_msg_reject_offset(err, edge_msg_json_reason(jerr.code), "", jerr.offset);
	}
	if (edge_json_type_of(&c.doc, 0) != EDGE_JSON_OBJECT)
		return edge_msg_reject_key(&c, EDGE_MSG_NOT_OBJECT, "", 0);

	/* format first: a newer manifest reports its version rather than
	 * whatever else changed. */
	t = member(&c, 0, &p, "format", 1);
	if (t < 0 || edge_msg_check_integer(&c, t, &p) < 0)
		return -EPROTO;
	if (edge_json_get_uint(&c.doc, t, UINT64_MAX, &v) < 0 || v != EDGE_OTA_FORMAT)
		return edge_msg_reject_path(&c, EDGE_MSG_UNSUPPORTED_VERSION, &p, t);
	if (parse_manifest_fields(&c, out) < 0) {
		memset(out, 0, sizeof *out);
		return -EPROTO;
	}
	return 0;
}

/* ------------------------------------------------------------------ encoder */

static int class_ok(const char *s, size_t cap, int (*ok)(char))
{
	size_t n = 0;

	while (n < cap && s[n])
		n++;
	return n < cap && edge_msg_check_class(s, n, cap - 1, ok) == EDGE_MSG_OK;
}

static int tensors_valid(const struct edge_ota_tensor *ts, unsigned n)
{
	unsigned i, d;

	if (n == 0 || n > EDGE_OTA_TENSORS_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		if (!class_ok(ts[i].type, sizeof ts[i].type, edge_msg_name_char) ||
		    !tensor_type_ok(ts[i].type) || ts[i].rank == 0 ||
		    ts[i].rank > EDGE_OTA_RANK_MAX || !scale_ok(ts[i].scale) ||
		    ts[i].zero_point < INT32_MIN || ts[i].zero_point > INT32_MAX)
			return 0;
		for (d = 0; d < ts[i].rank; d++)
			if (ts[i].shape[d] < 1)
				return 0;
	}
	return 1;
}

static int manifest_valid(const struct edge_ota_manifest *m)
{
	unsigned i;

	if (!class_ok(m->name, sizeof m->name, edge_msg_name_char) ||
	    !class_ok(m->version, sizeof m->version, edge_msg_version_char) ||
	    !class_ok(m->runtime, sizeof m->runtime, edge_msg_name_char) ||
	    m->counter < 1 || m->counter > EDGE_MSG_UINT_MAX || m->size < 1 ||
	    m->size > EDGE_OTA_MODEL_MAX || !edge_msg_sha256_ok(m->sha256) ||
	    m->n_ops > EDGE_OTA_OPS_MAX || m->arena_bytes < 1 ||
	    m->arena_bytes > UINT32_MAX || m->expires_ms > EDGE_MSG_UINT_MAX ||
	    m->selftest_seed == 0 || !edge_msg_sha256_ok(m->selftest_output_sha256) ||
	    !tensors_valid(m->inputs, m->n_inputs) || !tensors_valid(m->outputs, m->n_outputs))
		return 0;
	for (i = 0; i < m->n_ops; i++)
		if (!class_ok(m->ops[i], sizeof m->ops[i], op_char))
			return 0;
	return 1;
}

static void put_str(struct edge_msg_out *o, const char *s)
{
	edge_msg_out_n(o, "\"", 1);
	edge_msg_out_str(o, s);
	edge_msg_out_n(o, "\"", 1);
}

static void put_key(struct edge_msg_out *o, const char *key)
{
	put_str(o, key);
	edge_msg_out_n(o, ":", 1);
}

static void put_int(struct edge_msg_out *o, int64_t v)
{
	if (v < 0) {
		edge_msg_out_n(o, "-", 1);
		edge_msg_out_uint(o, (uint64_t)0 - (uint64_t)v);
	} else {
		edge_msg_out_uint(o, (uint64_t)v);
	}
}

/* The shortest of 15, 16, 17 significant digits that reads back as x (17
 * always does: edge_decimal_read rounds correctly). %g of a finite double is a
 * valid JSON number. */
static void put_double(struct edge_msg_out *o, double x)
{
	char num[40];
	int prec;

	for (prec = 15; prec <= 17; prec++) {
		double back;

		snprintf(num, sizeof num, "%.*g", prec, x);
		if (edge_decimal_read(num, strlen(num), &back) == 0 && back == x)
			break;
	}
	edge_msg_out_str(o, num);
}

static void put_tensors(struct edge_msg_out *o, const char *key, const struct edge_ota_tensor *ts,
			unsigned n)
{
	unsigned i, d;

	edge_msg_out_n(o, ",", 1);
	put_key(o, key);
	edge_msg_out_n(o, "[", 1);
	for (i = 0; i < n; i++) {
		edge_msg_out_str(o, i ? ",{" : "{");
		put_key(o, "type");
		put_str(o, ts[i].type);
		edge_msg_out_str(o, ",\"shape\":[");
		for (d = 0; d < ts[i].rank; d++) {
			if (d)
				edge_msg_out_n(o, ",", 1);
			edge_msg_out_uint(o, (uint64_t)ts[i].shape[d]);
		}
		edge_msg_out_str(o, "],\"scale\":");
		put_double(o, ts[i].scale);
		edge_msg_out_str(o, ",\"zero_point\":");
		put_int(o, ts[i].zero_point);
		edge_msg_out_n(o, "}", 1);
	}
	edge_msg_out_n(o, "]", 1);
}

int edge_ota_manifest_encode(char *buf, size_t cap, const struct edge_ota_manifest *m)
{
	struct edge_msg_out o = { buf, cap, 0 };
	unsigned i;

	if (!manifest_valid(m))
		return -EINVAL;
	edge_msg_out_str(&o, "{\"format\":");
	edge_msg_out_uint(&o, EDGE_OTA_FORMAT);
	edge_msg_out_str(&o, ",\"name\":");
	put_str(&o, m->name);
	edge_msg_out_str(&o, ",\"version\":");
	put_str(&o, m->version);
	edge_msg_out_str(&o, ",\"counter\":");
	edge_msg_out_uint(&o, m->counter);
	edge_msg_out_str(&o, ",\"size\":");
	edge_msg_out_uint(&o, m->size);
	edge_msg_out_str(&o, ",\"sha256\":");
	put_str(&o, m->sha256);
	edge_msg_out_str(&o, ",\"runtime\":");
	put_str(&o, m->runtime);
	edge_msg_out_str(&o, ",\"ops\":[");
	for (i = 0; i < m->n_ops; i++) {
		if (i)
			edge_msg_out_n(&o, ",", 1);
		put_str(&o, m->ops[i]);
	}
	edge_msg_out_str(&o, "],\"arena_bytes\":");
	edge_msg_out_uint(&o, m->arena_bytes);
	put_tensors(&o, "inputs", m->inputs, m->n_inputs);
	put_tensors(&o, "outputs", m->outputs, m->n_outputs);
	edge_msg_out_str(&o, ",\"expires_ms\":");
	edge_msg_out_uint(&o, m->expires_ms);
	edge_msg_out_str(&o, ",\"selftest\":{\"seed\":");
	edge_msg_out_uint(&o, m->selftest_seed);
	edge_msg_out_str(&o, ",\"output_sha256\":");
	put_str(&o, m->selftest_output_sha256);
	edge_msg_out_str(&o, "}}");
	return edge_msg_out_finish(&o);
}
