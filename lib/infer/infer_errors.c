/* Names and descriptions of the engine's error codes. */
#include "edge_infer.h"

struct status_text {
	const char *name;
	const char *text;
};

static const struct status_text status_texts[] = {
	[0] = {"EDGE_INFER_OK", "success"},
	[1] = {"EDGE_INFER_ENOMEM", "out of memory"},
	[2] = {"EDGE_INFER_EINVAL", "invalid argument"},
	[3] = {"EDGE_INFER_ETRUNCATED", "model file truncated"},
	[4] = {"EDGE_INFER_EFORMAT", "malformed flatbuffer structure"},
	[5] = {"EDGE_INFER_EIDENT", "not a TensorFlow Lite model (identifier)"},
	[6] = {"EDGE_INFER_EVERSION", "unsupported schema version"},
	[7] = {"EDGE_INFER_ESUBGRAPH", "invalid or unsupported subgraphs"},
	[8] = {"EDGE_INFER_EINDEX", "index out of range"},
	[9] = {"EDGE_INFER_ESHAPE", "invalid tensor shape"},
	[10] = {"EDGE_INFER_EBUFFER", "invalid constant buffer"},
	[11] = {"EDGE_INFER_ETYPE", "unsupported tensor type"},
	[12] = {"EDGE_INFER_EQUANT", "invalid quantization parameters"},
	[13] = {"EDGE_INFER_EUNSUPPORTED", "unsupported operator"},
	[14] = {"EDGE_INFER_EOPTIONS", "invalid operator options"},
	[15] = {"EDGE_INFER_EGRAPH", "invalid operator graph"},
	[16] = {"EDGE_INFER_EOP", "operator constraint violated"},
	[17] = {"EDGE_INFER_ELIMIT", "model exceeds a load limit"},
	[18] = {"EDGE_INFER_EBUDGET", "model exceeds the operation budget"},
	[19] = {"EDGE_INFER_EARENA", "arena too small or misaligned"},
};

static const struct status_text *lookup(int code)
{
	if (code == 0)
		return &status_texts[0];
	int i = -code - EDGE_INFER_EBASE;
	if (i <= 0 || i >= (int)(sizeof status_texts / sizeof status_texts[0]))
		return NULL;
	return &status_texts[i];
}

const char *edge_infer_strerror(int code)
{
	const struct status_text *t = lookup(code);
	return t ? t->text : "unknown error";
}

const char *edge_infer_errname(int code)
{
	const struct status_text *t = lookup(code);
	return t ? t->name : "EDGE_INFER_UNKNOWN";
}
