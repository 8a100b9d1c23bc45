#!/usr/bin/env python3
"""Generate the malformed TensorFlow Lite models the engine's loader must
refuse, one per defect class, into tests/unit/infer/malformed/ together with
expected.txt (file, expected error code, message substring).

Python 3 standard library only. Models are written by a small FlatBuffers
serializer of our own (forward layout: every table is preceded by its
vtable, children follow their parents), from a plain description of a
valid model that each defect then alters; structural defects patch the
serialized bytes at recorded positions.

Usage: gen-malformed-models.py [OUTDIR]   (default: the source tree's
tests/unit/infer/malformed)
"""

import copy
import os
import struct
import sys

# ---------------------------------------------------------------- serializer


class Table:
    """fields: list of (id, kind, value); kind is a struct code ('b', 'B',
    'i', 'I', 'f', 'q', 'Q') or 'off' with a Table / Vector / String value."""

    def __init__(self, fields, tag=None):
        self.fields = [f for f in fields if f[2] is not None]
        self.tag = tag


class Vector:
    """kind: struct code of scalar elements or 'off' for tables/strings."""

    def __init__(self, kind, items, align=None, tag=None):
        self.kind, self.items, self.align, self.tag = kind, items, align, tag


class String:
    def __init__(self, text, tag=None):
        self.text, self.tag = text, tag


def size_of(kind):
    return 4 if kind == 'off' else struct.calcsize('<' + kind)


class Writer:
    def __init__(self, ident=b'TFL3'):
        self.buf = bytearray(struct.pack('<I', 0) + ident)
        self.pending = []   # (field position, child object)
        self.pos = {}       # tag -> position of the object
        self.fieldpos = {}  # tag.field id -> position of the field

    def pad_to(self, align, extra=0):
        while (len(self.buf) + extra) % align:
            self.buf.append(0)

    def put(self, fmt, pos, value):
        struct.pack_into('<' + fmt, self.buf, pos, value)

    def table(self, t):
        n_slots = max([f[0] for f in t.fields], default=-1) + 1
        vt_len = 4 + 2 * n_slots
        # Inline layout: soffset, then fields largest first (aligned).
        layout, off = {}, 4
        for fid, kind, _ in sorted(t.fields, key=lambda f: -size_of(f[1])):
            sz = size_of(kind)
            off = (off + sz - 1) // sz * sz
            layout[fid] = off
            off += sz
        obj_len = off
        self.pad_to(2)
        # The vtable goes right before the table; the table starts 8-aligned.
        gap = 0
        while (len(self.buf) + vt_len + gap) % 8:
            gap += 1
        vt = len(self.buf) + gap
        self.buf += bytes(gap + vt_len)
        pos = len(self.buf)
        self.buf += bytes(obj_len)
        self.put('H', vt, vt_len)
        self.put('H', vt + 2, obj_len)
        for fid, kind, value in t.fields:
            self.put('H', vt + 4 + 2 * fid, layout[fid])
            p = pos + layout[fid]
            if t.tag:
                self.fieldpos['%s.%d' % (t.tag, fid)] = p
            if kind == 'off':
                self.pending.append((p, value))
            else:
                self.put(kind, p, value)
        self.put('i', pos, pos - vt)
        return pos

    def vector(self, v):
        esz = size_of(v.kind)
        align = max(4, esz, v.align or 0)
        self.pad_to(align, 4)
        pos = len(self.buf)
        self.buf += struct.pack('<I', len(v.items))
        for item in v.items:
            if v.kind == 'off':
                self.pending.append((len(self.buf), item))
                self.buf += bytes(4)
            else:
                self.buf += struct.pack('<' + v.kind, item)
        return pos

    def string(self, s):
        self.pad_to(4)
        pos = len(self.buf)
        data = s.text.encode()
        self.buf += struct.pack('<I', len(data)) + data + b'\0'
        return pos

    def write(self, obj):
        if isinstance(obj, Table):
            pos = self.table(obj)
        elif isinstance(obj, Vector):
            pos = self.vector(obj)
        else:
            pos = self.string(obj)
        if obj.tag:
            self.pos[obj.tag] = pos
        return pos

    def finish(self, root):
        self.put('I', 0, self.write(root))
        while self.pending:
            field, child = self.pending.pop(0)
            self.put('I', field, self.write(child) - field)
        self.pad_to(16)
        return self


# ------------------------------------------------------------ model describer

INT8, INT32, FLOAT16, STRING = 9, 2, 1, 5
FC, SOFTMAX, CONV, ADD, MEAN, RESHAPE, AVG_POOL = 9, 25, 3, 0, 40, 22, 1
OPT_CONV, OPT_POOL, OPT_FC, OPT_SOFTMAX, OPT_ADD, OPT_RESHAPE, OPT_REDUCER = 1, 5, 8, 9, 11, 17, 27


def q(scale, zp, dim=None):
    return {'scale': list(scale), 'zp': list(zp), 'dim': dim}


def tensor(name, shape, ttype=INT8, buffer=0, quant=None, **extra):
    t = {'name': name, 'shape': list(shape), 'type': ttype, 'buffer': buffer, 'quant': quant}
    t.update(extra)
    return t


def fc_model():
    """input [1,4] -> FULLY_CONNECTED (3 units, RELU) -> SOFTMAX -> output."""
    w = struct.pack('<12b', *[1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, -12])
    b = struct.pack('<3i', 10, -20, 30)
    return {
        'version': 3,
        'opcodes': [{'builtin': FC}, {'builtin': SOFTMAX}],
        'buffers': [None, w, b, None, None, None],
        'tensors': [
            tensor('input', [1, 4], quant=q([0.5], [-3])),
            tensor('weights', [3, 4], buffer=1, quant=q([0.02], [0])),
            tensor('bias', [3], INT32, buffer=2, quant=q([0.01], [0])),
            tensor('logits', [1, 3], quant=q([0.25], [5])),
            tensor('probs', [1, 3], quant=q([1 / 256], [-128])),
        ],
        'inputs': [0],
        'outputs': [4],
        'ops': [
            {'opcode': 0, 'inputs': [0, 1, 2], 'outputs': [3], 'opt_type': OPT_FC,
             'opts': [(0, 'b', 1)]},
            {'opcode': 1, 'inputs': [3], 'outputs': [4], 'opt_type': OPT_SOFTMAX,
             'opts': [(0, 'f', 1.0)]},
        ],
    }


def conv_model():
    """input [1,5,5,2] -> CONV_2D 3x3 SAME (4 channels, per-channel) -> output."""
    w = bytes((i * 7 + 3) % 256 for i in range(4 * 3 * 3 * 2))
    w = struct.pack('<72b', *[((x + 128) % 256) - 128 for x in w])
    b = struct.pack('<4i', 1, -2, 3, -4)
    return {
        'version': 3,
        'opcodes': [{'builtin': CONV}],
        'buffers': [None, w, b, None, None],
        'tensors': [
            tensor('input', [1, 5, 5, 2], quant=q([0.1], [1])),
            tensor('filter', [4, 3, 3, 2], buffer=1,
                   quant=q([0.01, 0.02, 0.03, 0.04], [0, 0, 0, 0], 0)),
            tensor('bias', [4], INT32, buffer=2,
                   quant=q([0.001, 0.002, 0.003, 0.004], [0, 0, 0, 0], 0)),
            tensor('output', [1, 5, 5, 4], quant=q([0.2], [-1])),
        ],
        'inputs': [0],
        'outputs': [3],
        'ops': [
            {'opcode': 0, 'inputs': [0, 1, 2], 'outputs': [3], 'opt_type': OPT_CONV,
             'opts': [(0, 'b', 0), (1, 'i', 1), (2, 'i', 1), (3, 'b', 1)]},
        ],
    }


def variable_model():
    """input [1,4] + state (variable, zero point -3) -> ADD -> output; the
    same quantization everywhere, so output == input while the state holds
    its reset value (real 0)."""
    qq = q([0.5], [-3])
    return {
        'version': 3,
        'opcodes': [{'builtin': ADD}],
        'buffers': [None],
        'tensors': [
            tensor('input', [1, 4], quant=qq),
            tensor('state', [1, 4], quant=copy.deepcopy(qq), is_variable=True),
            tensor('output', [1, 4], quant=copy.deepcopy(qq)),
        ],
        'inputs': [0],
        'outputs': [2],
        'ops': [{'opcode': 0, 'inputs': [0, 1], 'outputs': [2], 'opt_type': OPT_ADD,
                 'opts': [(0, 'b', 0)]}],
    }


def to_tree(m):
    def quant(qd):
        if qd is None:
            return None
        fields = [(2, 'off', Vector('f', qd['scale'])), (3, 'off', Vector('q', qd['zp']))]
        if qd.get('dim') is not None:
            fields.append((6, 'i', qd['dim']))
        if qd.get('details_type'):
            fields += [(4, 'B', qd['details_type']),
                       (5, 'off', Table([(0, 'off', Vector('B', [1, 2, 3, 4]))]))]
        return Table(fields)

    def tens(i, t):
        fields = [(0, 'off', Vector('i', t['shape'])), (1, 'b', t['type']),
                  (2, 'I', t['buffer']), (3, 'off', String(t['name'], tag='name%d' % i))]
        if t['quant'] is not None:
            fields.append((4, 'off', quant(t['quant'])))
        if t.get('is_variable'):
            fields.append((5, 'B', 1))
        if t.get('sparsity'):
            fields.append((6, 'off', Table([(0, 'off', Vector('i', [0, 1]))])))
        return Table(fields, tag='tensor%d' % i)

    def op(i, o):
        fields = [(0, 'I', o['opcode']), (1, 'off', Vector('i', o['inputs'])),
                  (2, 'off', Vector('i', o['outputs']))]
        if o.get('opt_type'):
            fields += [(3, 'B', o['opt_type']), (4, 'off', Table(o.get('opts', [])))]
        return Table(fields, tag='op%d' % i)

    def opcode(c):
        b = c['builtin']
        fields = [(0, 'b', c.get('deprecated', min(b, 127))), (3, 'i', b)]
        if 'custom' in c:
            fields.append((1, 'off', String(c['custom'])))
        return Table(fields)

    def buf(i, b):
        if isinstance(b, dict):  # data outside the flatbuffer
            return Table([(1, 'Q', b['offset']), (2, 'Q', b['size'])])
        return Table([(0, 'off', Vector('B', list(b), align=16))] if b else [])

    subgraphs = [Table([
        (0, 'off', Vector('off', [tens(i, t) for i, t in enumerate(m['tensors'])], tag='tensors')),
        (1, 'off', Vector('i', m['inputs'])),
        (2, 'off', Vector('i', m['outputs'])),
        (3, 'off', Vector('off', [op(i, o) for i, o in enumerate(m['ops'])])),
        (4, 'off', String('main')),
    ], tag='subgraph0')] if m.get('subgraphs', 1) else []
    return Table([
        (0, 'I', m['version']),
        (1, 'off', Vector('off', [opcode(c) for c in m['opcodes']])),
        (2, 'off', Vector('off', subgraphs, tag='subgraphs')),
        (3, 'off', String('edged malformed-model fixture')),
        (4, 'off', Vector('off', [buf(i, b) for i, b in enumerate(m['buffers'])])),
    ], tag='root')


def build(m, ident=b'TFL3'):
    w = Writer(ident).finish(to_tree(m))
    return w


# ------------------------------------------------------------------- defects

DEFECTS = []


def defect(name, code, substring):
    def register(fn):
        DEFECTS.append((name, code, substring, fn))
        return fn
    return register


def semantic(base, change):
    m = copy.deepcopy(base())
    change(m)
    return bytes(build(m).buf)


# Structure of the file --------------------------------------------------------

@defect('truncated_header', 'EDGE_INFER_ETRUNCATED', 'too short')
def _():
    return bytes(build(fc_model()).buf)[:6]


@defect('truncated_half', 'EDGE_INFER_EFORMAT', 'outside the file')
def _():
    b = bytes(build(fc_model()).buf)
    return b[:len(b) // 2]


@defect('root_offset_outside', 'EDGE_INFER_ETRUNCATED', 'root table offset')
def _():
    b = build(fc_model()).buf
    struct.pack_into('<I', b, 0, len(b) + 64)
    return bytes(b)


@defect('root_misaligned', 'EDGE_INFER_EFORMAT', 'misaligned')
def _():
    b = build(fc_model()).buf
    struct.pack_into('<I', b, 0, struct.unpack_from('<I', b, 0)[0] + 2)
    return bytes(b)


@defect('bad_identifier', 'EDGE_INFER_EIDENT', 'TFL2')
def _():
    return bytes(build(fc_model(), ident=b'TFL2').buf)


@defect('vtable_outside', 'EDGE_INFER_EFORMAT', 'vtable')
def _():
    w = build(fc_model())
    struct.pack_into('<i', w.buf, w.pos['root'], -0x100000)
    return bytes(w.buf)


@defect('vtable_bad_size', 'EDGE_INFER_EFORMAT', 'invalid size')
def _():
    w = build(fc_model())
    root = w.pos['root']
    vt = root - struct.unpack_from('<i', w.buf, root)[0]
    struct.pack_into('<H', w.buf, vt, 3)
    return bytes(w.buf)


@defect('field_outside_table', 'EDGE_INFER_EFORMAT', 'field outside its table')
def _():
    w = build(fc_model())
    root = w.pos['root']
    vt = root - struct.unpack_from('<i', w.buf, root)[0]
    struct.pack_into('<H', w.buf, vt + 4, 0x400)  # version field offset
    return bytes(w.buf)


@defect('vector_past_end', 'EDGE_INFER_EFORMAT', 'runs past the end')
def _():
    w = build(fc_model())
    struct.pack_into('<I', w.buf, w.pos['tensors'], 0x0fffffff)
    return bytes(w.buf)


@defect('table_offset_outside', 'EDGE_INFER_EFORMAT', 'outside the file')
def _():
    w = build(fc_model())
    struct.pack_into('<I', w.buf, w.pos['subgraphs'] + 4, 0x7fffff00)
    return bytes(w.buf)


@defect('table_misaligned', 'EDGE_INFER_EFORMAT', 'misaligned')
def _():
    w = build(fc_model())
    p = w.pos['subgraphs'] + 4
    struct.pack_into('<I', w.buf, p, struct.unpack_from('<I', w.buf, p)[0] + 1)
    return bytes(w.buf)


@defect('string_unterminated', 'EDGE_INFER_EFORMAT', 'string')
def _():
    w = build(fc_model())
    p = w.pos['name0']
    struct.pack_into('<I', w.buf, p, len(w.buf) - p - 4)
    return bytes(w.buf)


@defect('schema_version_2', 'EDGE_INFER_EVERSION', 'schema version 2')
def _():
    return semantic(fc_model, lambda m: m.update(version=2))


@defect('no_subgraph', 'EDGE_INFER_ESUBGRAPH', 'no subgraph')
def _():
    return semantic(fc_model, lambda m: m.update(subgraphs=0))


# Indices ----------------------------------------------------------------------

@defect('op_input_index_out_of_range', 'EDGE_INFER_EINDEX', 'input 1 is tensor 99, out of range')
def _():
    return semantic(fc_model, lambda m: m['ops'][0]['inputs'].__setitem__(1, 99))


@defect('optional_input_not_allowed', 'EDGE_INFER_EINDEX', 'input 0 is tensor -1')
def _():
    return semantic(fc_model, lambda m: m['ops'][0]['inputs'].__setitem__(0, -1))


@defect('graph_input_index_out_of_range', 'EDGE_INFER_EINDEX', 'graph inputs 0 is tensor 42')
def _():
    return semantic(fc_model, lambda m: m.update(inputs=[42]))


@defect('buffer_index_out_of_range', 'EDGE_INFER_EINDEX', 'buffer index 77 out of range')
def _():
    return semantic(fc_model, lambda m: m['tensors'][1].update(buffer=77))


@defect('opcode_index_out_of_range', 'EDGE_INFER_EINDEX', 'opcode index 5 out of range')
def _():
    return semantic(fc_model, lambda m: m['ops'][1].update(opcode=5))


# Shapes and buffers -------------------------------------------------------------

@defect('buffer_smaller_than_shape', 'EDGE_INFER_EBUFFER', 'holds 12 bytes, shape needs 16')
def _():
    return semantic(fc_model, lambda m: m['tensors'][1].update(shape=[4, 4]))


@defect('external_buffer_out_of_range', 'EDGE_INFER_EBUFFER', 'external data')
def _():
    return semantic(fc_model, lambda m: m['buffers'].__setitem__(1, {'offset': 1 << 40, 'size': 12}))


@defect('shape_product_overflow', 'EDGE_INFER_ESHAPE', 'element count')
def _():
    return semantic(fc_model, lambda m: m['tensors'][3].update(shape=[65536, 65536, 65536]))


@defect('negative_dimension', 'EDGE_INFER_ESHAPE', 'dimension 1 is -3')
def _():
    return semantic(fc_model, lambda m: m['tensors'][3].update(shape=[1, -3]))


@defect('rank_above_8', 'EDGE_INFER_ESHAPE', 'rank 9 exceeds 8')
def _():
    return semantic(fc_model, lambda m: m['tensors'][3].update(shape=[1] * 8 + [3]))


@defect('unsupported_tensor_type', 'EDGE_INFER_ETYPE', 'type STRING')
def _():
    return semantic(fc_model, lambda m: m['tensors'][3].update(type=STRING))


@defect('sparse_tensor', 'EDGE_INFER_ETYPE', 'sparse')
def _():
    return semantic(fc_model, lambda m: m['tensors'][1].update(sparsity=True))


# Quantization -------------------------------------------------------------------

@defect('scale_zero', 'EDGE_INFER_EQUANT', 'scale[0] = 0')
def _():
    return semantic(fc_model, lambda m: m['tensors'][3]['quant'].update(scale=[0.0]))


@defect('scale_negative', 'EDGE_INFER_EQUANT', 'scale[0] = -0.25')
def _():
    return semantic(fc_model, lambda m: m['tensors'][3]['quant'].update(scale=[-0.25]))


@defect('scale_nan', 'EDGE_INFER_EQUANT', 'scale[0] = nan')
def _():
    return semantic(fc_model, lambda m: m['tensors'][3]['quant'].update(scale=[float('nan')]))


@defect('scale_inf', 'EDGE_INFER_EQUANT', 'scale[0] = inf')
def _():
    return semantic(fc_model, lambda m: m['tensors'][3]['quant'].update(scale=[float('inf')]))


@defect('zero_point_out_of_range', 'EDGE_INFER_EQUANT', 'zero_point[0] = 200 out of range for INT8')
def _():
    return semantic(fc_model, lambda m: m['tensors'][3]['quant'].update(zp=[200]))


@defect('per_channel_count_mismatch', 'EDGE_INFER_EQUANT', '3 per-channel scales but dimension 0 has 4')
def _():
    return semantic(conv_model, lambda m: m['tensors'][1].update(
        quant=q([0.01, 0.02, 0.03], [0, 0, 0], 0)))


@defect('quantized_dimension_out_of_range', 'EDGE_INFER_EQUANT', 'quantized_dimension 4 out of range')
def _():
    return semantic(conv_model, lambda m: m['tensors'][1]['quant'].update(dim=4))


@defect('scale_zero_point_count_mismatch', 'EDGE_INFER_EQUANT', '2 scales but 1 zero points')
def _():
    return semantic(fc_model, lambda m: m['tensors'][3].update(quant=q([0.25, 0.5], [5])))


@defect('custom_quantization', 'EDGE_INFER_EQUANT', 'custom quantization')
def _():
    return semantic(fc_model, lambda m: m['tensors'][3]['quant'].update(details_type=1))


# Operators ----------------------------------------------------------------------

@defect('unknown_builtin', 'EDGE_INFER_EUNSUPPORTED', 'unknown builtin operator code 300')
def _():
    return semantic(fc_model, lambda m: m['opcodes'][1].update(builtin=300))


@defect('unsupported_op_by_name', 'EDGE_INFER_EUNSUPPORTED', 'L2_NORMALIZATION is not supported')
def _():
    return semantic(fc_model, lambda m: m['opcodes'][1].update(builtin=11))


@defect('lstm_by_name', 'EDGE_INFER_EUNSUPPORTED', 'UNIDIRECTIONAL_SEQUENCE_LSTM is not supported')
def _():
    return semantic(fc_model, lambda m: m['opcodes'][0].update(builtin=44))


@defect('custom_operator', 'EDGE_INFER_EUNSUPPORTED', 'custom operator "MyOp"')
def _():
    return semantic(fc_model, lambda m: m['opcodes'][1].update(builtin=32, custom='MyOp'))


@defect('deprecated_code_wins', 'EDGE_INFER_EUNSUPPORTED', 'EMBEDDING_LOOKUP is not supported')
def _():
    # builtin_code 0 (ADD) but deprecated_builtin_code 7: the larger counts.
    return semantic(fc_model, lambda m: m['opcodes'][1].update(builtin=0, deprecated=7))


@defect('wrong_options_type', 'EDGE_INFER_EOPTIONS', 'builtin options of type 1, expected 8')
def _():
    return semantic(fc_model, lambda m: m['ops'][0].update(opt_type=OPT_CONV))


@defect('bad_padding_enum', 'EDGE_INFER_EOPTIONS', 'padding = 2')
def _():
    return semantic(conv_model, lambda m: m['ops'][0]['opts'].__setitem__(0, (0, 'b', 2)))


@defect('zero_stride', 'EDGE_INFER_EOPTIONS', 'stride_w = 0')
def _():
    return semantic(conv_model, lambda m: m['ops'][0]['opts'].__setitem__(1, (1, 'i', 0)))


@defect('zero_dilation', 'EDGE_INFER_EOPTIONS', 'dilation_h_factor = 0')
def _():
    return semantic(conv_model, lambda m: m['ops'][0]['opts'].append((5, 'i', 0)))


@defect('bad_activation_enum', 'EDGE_INFER_EOPTIONS', 'fused_activation_function = 9')
def _():
    return semantic(fc_model, lambda m: m['ops'][0]['opts'].__setitem__(0, (0, 'b', 9)))


@defect('softmax_beta_nan', 'EDGE_INFER_EOPTIONS', 'beta is not finite')
def _():
    return semantic(fc_model, lambda m: m['ops'][1]['opts'].__setitem__(0, (0, 'f', float('nan'))))


@defect('too_many_inputs', 'EDGE_INFER_EOP', '4 inputs, expects 2 to 3')
def _():
    return semantic(fc_model, lambda m: m['ops'][0]['inputs'].append(0))


@defect('kernel_larger_than_input', 'EDGE_INFER_EOP', 'operator 0 (CONV_2D)')
def _():
    def change(m):
        m['tensors'][1]['shape'] = [4, 7, 7, 2]
        m['buffers'][1] = bytes(4 * 7 * 7 * 2)
        m['ops'][0]['opts'][0] = (0, 'b', 1)  # VALID
        m['tensors'][3]['shape'] = [1, 1, 1, 4]
    return semantic(conv_model, change)


@defect('axis_out_of_range', 'EDGE_INFER_EOP', 'operator 0 (MEAN)')
def _():
    def change(m):
        m['opcodes'] = [{'builtin': MEAN}]
        m['buffers'] = [None, struct.pack('<i', 5), None, None]
        m['tensors'] = [
            tensor('input', [1, 4], quant=q([0.5], [-3])),
            tensor('axes', [1], INT32, buffer=1),
            tensor('output', [1, 1], quant=q([0.5], [-3])),
        ]
        m['outputs'] = [2]
        m['ops'] = [{'opcode': 0, 'inputs': [0, 1], 'outputs': [2], 'opt_type': OPT_REDUCER,
                     'opts': [(0, 'b', 1)]}]
    return semantic(fc_model, change)


# Graph --------------------------------------------------------------------------

@defect('cyclic_graph', 'EDGE_INFER_EGRAPH', 'form a cycle')
def _():
    # FC reads SOFTMAX's output, SOFTMAX reads FC's output.
    return semantic(fc_model, lambda m: m['ops'][0]['inputs'].__setitem__(0, 4))


@defect('input_used_before_defined', 'EDGE_INFER_EGRAPH', 'used before operator 1 defines it')
def _():
    return semantic(fc_model, lambda m: m.update(ops=m['ops'][::-1]))


@defect('input_never_defined', 'EDGE_INFER_EGRAPH', 'is never defined')
def _():
    def change(m):
        m['tensors'].append(tensor('orphan', [1, 3], quant=q([0.25], [5])))
        m['ops'][1]['inputs'] = [5]
    return semantic(fc_model, change)


@defect('output_aliases_input', 'EDGE_INFER_EGRAPH', 'output tensor 3 is also its input')
def _():
    return semantic(fc_model, lambda m: m['ops'][1].update(outputs=[3]))


@defect('tensor_produced_twice', 'EDGE_INFER_EGRAPH', 'tensor 3 is produced twice')
def _():
    def change(m):
        m['ops'][1]['inputs'] = [0]
        m['ops'][1]['outputs'] = [3]
    return semantic(fc_model, change)


@defect('output_overwrites_constant', 'EDGE_INFER_EGRAPH', 'output tensor 1 is a constant')
def _():
    return semantic(fc_model, lambda m: m['ops'][1].update(outputs=[1]))


@defect('graph_output_never_produced', 'EDGE_INFER_EGRAPH', 'graph output 0 (tensor 5) is never produced')
def _():
    def change(m):
        m['tensors'].append(tensor('dangling', [1, 3], quant=q([0.25], [5])))
        m['outputs'] = [5]
    return semantic(fc_model, change)


@defect('graph_input_constant', 'EDGE_INFER_EGRAPH', 'a constant')
def _():
    return semantic(fc_model, lambda m: m.update(inputs=[1]))


# ---------------------------------------------------------------------- main

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        here, '..', 'tests', 'unit', 'infer', 'malformed')
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'valid_fc.tflite'), 'wb') as f:
        f.write(bytes(build(fc_model()).buf))
    with open(os.path.join(out, 'valid_conv.tflite'), 'wb') as f:
        f.write(bytes(build(conv_model()).buf))
    # Old converters leave quantized_dimension = 3 on 1-D per-channel
    # biases (person_detect): the loader must ignore it.
    quirk = conv_model()
    quirk['tensors'][2]['quant']['dim'] = 3
    with open(os.path.join(out, 'valid_conv_bias_qdim_quirk.tflite'), 'wb') as f:
        f.write(bytes(build(quirk).buf))
    with open(os.path.join(out, 'valid_variable.tflite'), 'wb') as f:
        f.write(bytes(build(variable_model()).buf))
    lines = ['# Generated by scripts/gen-malformed-models.py: <file> <error code> <message substring>']
    for name, code, substring, fn in DEFECTS:
        with open(os.path.join(out, name + '.tflite'), 'wb') as f:
            f.write(fn())
        lines.append('%s.tflite %s %s' % (name, code, substring))
    with open(os.path.join(out, 'expected.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('%d malformed models + 4 valid bases in %s' % (len(DEFECTS), out))


if __name__ == '__main__':
    main()
