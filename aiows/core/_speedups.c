/* Compiled hot paths of the aiows protocol core.
 *
 * scan_messages() turns a run of plain data frames into messages (see below).
 * new_payload() makes a bytes object a large message is read into in place.
 *
 * build_frame(b0, key, data) -> a whole masked client frame (header, key,
 * data XOR key), built in one allocation so a frame is written with a single
 * buffer and no extra copy; build_frame_into() writes it into a buffer the
 * caller reuses.  apply_mask(key, data) -> data XOR key.  Both XOR eight bytes at a time;
 * compilers vectorise the loop further where the CPU allows (SSE2/AVX2 at -O3).
 *
 * The pure-Python equivalents live in mask.py and are tested against these.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static void
xor_into(unsigned char *out, const unsigned char *in, Py_ssize_t n,
         const unsigned char key[4])
{
    uint32_t k32;
    uint64_t k64;
    Py_ssize_t i = 0;
    memcpy(&k32, key, 4);
    k64 = ((uint64_t)k32 << 32) | k32;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, in + i, 8);
        v ^= k64;
        memcpy(out + i, &v, 8);
    }
    for (; i < n; i++) {
        out[i] = in[i] ^ key[i & 3];
    }
}

static int
get_key(PyObject *obj, Py_buffer *key)
{
    if (PyObject_GetBuffer(obj, key, PyBUF_SIMPLE) < 0) {
        return -1;
    }
    if (key->len != 4) {
        PyBuffer_Release(key);
        PyErr_SetString(PyExc_ValueError, "mask key must be 4 bytes");
        return -1;
    }
    return 0;
}

/* The size of a masked client frame carrying n bytes. */
static Py_ssize_t
frame_size(Py_ssize_t n)
{
    return (n < 126 ? 2 : (n < 65536 ? 4 : 10)) + 4 + n;
}

/* Write a whole masked client frame into out, which has room for it: the
 * header (first byte b0, mask bit, 7/16/64-bit length), the key, the
 * masked data. */
static void
write_frame(unsigned char *out, long b0, const Py_buffer *key, const Py_buffer *data)
{
    unsigned long long n = (unsigned long long)data->len;
    Py_ssize_t header = data->len < 126 ? 2 : (data->len < 65536 ? 4 : 10);
    out[0] = (unsigned char)b0;
    if (header == 2) {
        out[1] = (unsigned char)(0x80 | n);
    }
    else if (header == 4) {
        out[1] = 0x80 | 126;
        out[2] = (unsigned char)(n >> 8);
        out[3] = (unsigned char)n;
    }
    else {
        int i;
        out[1] = 0x80 | 127;
        for (i = 0; i < 8; i++) {
            out[2 + i] = (unsigned char)(n >> (56 - 8 * i));
        }
    }
    memcpy(out + header, key->buf, 4);
    xor_into(out + header + 4, data->buf, data->len, key->buf);
}

/* The arguments both frame builders share: b0, key, data. */
static int
frame_args(PyObject *const *args, long *b0, Py_buffer *key, Py_buffer *data)
{
    *b0 = PyLong_AsLong(args[0]);
    if (*b0 == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (*b0 < 0 || *b0 > 255) {
        PyErr_SetString(PyExc_ValueError, "b0 must be a byte");
        return -1;
    }
    if (get_key(args[1], key) < 0) {
        return -1;
    }
    if (PyObject_GetBuffer(args[2], data, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(key);
        return -1;
    }
    return 0;
}

/* build_frame(b0, key, data) -> a whole masked client frame as new bytes. */
static PyObject *
build_frame(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer key, data;
    PyObject *result;
    long b0;

    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "build_frame(b0, key, data)");
        return NULL;
    }
    if (frame_args(args, &b0, &key, &data) < 0) {
        return NULL;
    }
    result = PyBytes_FromStringAndSize(NULL, frame_size(data.len));
    if (result != NULL) {
        write_frame((unsigned char *)PyBytes_AS_STRING(result), b0, &key, &data);
    }
    PyBuffer_Release(&data);
    PyBuffer_Release(&key);
    return result;
}

/* build_frame_into(b0, key, data, out) -> the frame's length: the same
 * frame written at the start of the writable buffer out, so that a large
 * frame can reuse memory instead of allocating it (see SendLane). */
static PyObject *
build_frame_into(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer key, data, out;
    Py_ssize_t size;
    long b0;

    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "build_frame_into(b0, key, data, out)");
        return NULL;
    }
    if (frame_args(args, &b0, &key, &data) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[3], &out, PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&data);
        PyBuffer_Release(&key);
        return NULL;
    }
    size = frame_size(data.len);
    if (size > out.len) {
        PyErr_Format(PyExc_ValueError,
                     "a frame of %zd bytes does not fit in %zd", size, out.len);
        size = -1;
    }
    else {
        write_frame((unsigned char *)out.buf, b0, &key, &data);
    }
    PyBuffer_Release(&out);
    PyBuffer_Release(&data);
    PyBuffer_Release(&key);
    return size < 0 ? NULL : PyLong_FromSsize_t(size);
}

static PyObject *
apply_mask(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer key, data;
    PyObject *result;

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "apply_mask(key, data)");
        return NULL;
    }
    if (get_key(args[0], &key) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[1], &data, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&key);
        return NULL;
    }
    result = PyBytes_FromStringAndSize(NULL, data.len);
    if (result != NULL) {
        xor_into((unsigned char *)PyBytes_AS_STRING(result), data.buf, data.len,
                 key.buf);
    }
    PyBuffer_Release(&data);
    PyBuffer_Release(&key);
    return result;
}

/* A message tuple built without calling the class: the NamedTuple's __new__
 * is Python code and would cost more than parsing the frame. */
static PyObject *
new_message(PyTypeObject *cls, PyObject *type, PyObject *data, PyObject *extra)
{
    PyObject *msg = cls->tp_alloc(cls, 3);
    if (msg == NULL) {
        Py_DECREF(data);
        return NULL;
    }
    Py_INCREF(type);
    PyTuple_SET_ITEM(msg, 0, type);
    PyTuple_SET_ITEM(msg, 1, data);
    Py_INCREF(extra);
    PyTuple_SET_ITEM(msg, 2, extra);
    return msg;
}

/* scan_messages(data, pos, max_size, decode_text, out, spec) -> new pos
 *
 * `spec` is (text_class, binary_class, TEXT, BINARY, extra): the tuple
 * classes of TEXT and BINARY messages, the members that go in their `type`
 * field, and what goes in their `extra` field.
 *
 * Appends a message to `out` for each frame from `pos` on that is a whole,
 * unfragmented, uncompressed, unmasked TEXT or BINARY frame within
 * max_size (0: no limit) whose text is valid UTF-8, and returns the position
 * of the first frame that is anything else.  That frame is left to the
 * Python parser, which applies every rule and raises every error, so this
 * function never fails on bad input: it only stops early. */
static PyObject *
scan_messages(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    Py_ssize_t pos, end;
    unsigned long long max_size;
    int decode_text;
    PyObject *out, *spec, *extra;
    PyTypeObject *text_class, *binary_class;
    const unsigned char *buf;

    if (nargs != 6 || !PyList_Check(args[4]) || !PyTuple_Check(args[5]) ||
        PyTuple_GET_SIZE(args[5]) != 5 ||
        !PyType_Check(PyTuple_GET_ITEM(args[5], 0)) ||
        !PyType_IsSubtype((PyTypeObject *)PyTuple_GET_ITEM(args[5], 0),
                          &PyTuple_Type) ||
        !PyType_Check(PyTuple_GET_ITEM(args[5], 1)) ||
        !PyType_IsSubtype((PyTypeObject *)PyTuple_GET_ITEM(args[5], 1),
                          &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError,
                        "scan_messages(data, pos, max_size, decode_text, out, "
                        "(text_class, binary_class, TEXT, BINARY, extra))");
        return NULL;
    }
    spec = args[5];
    text_class = (PyTypeObject *)PyTuple_GET_ITEM(spec, 0);
    binary_class = (PyTypeObject *)PyTuple_GET_ITEM(spec, 1);
    extra = PyTuple_GET_ITEM(spec, 4);
    pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred()) {
        return NULL;
    }
    max_size = PyLong_AsUnsignedLongLong(args[2]);
    if (max_size == (unsigned long long)-1 && PyErr_Occurred()) {
        return NULL;
    }
    decode_text = PyObject_IsTrue(args[3]);
    if (decode_text < 0) {
        return NULL;
    }
    out = args[4];
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    buf = (const unsigned char *)view.buf;
    end = view.len;

    while (end - pos >= 2) {
        unsigned char b0 = buf[pos], b1 = buf[pos + 1];
        unsigned long long length = b1 & 0x7F;
        Py_ssize_t header = 2;
        PyObject *data, *msg, *type;
        PyTypeObject *cls;
        const char *payload;

        /* FIN set, RSV clear, TEXT or BINARY, not masked. */
        if ((b0 != 0x81 && b0 != 0x82) || (b1 & 0x80)) {
            break;
        }
        if (length == 126) {
            if (end - pos < 4) {
                break;
            }
            length = ((unsigned long long)buf[pos + 2] << 8) | buf[pos + 3];
            header = 4;
        }
        else if (length == 127) {
            int i;
            if (end - pos < 10) {
                break;
            }
            length = 0;
            for (i = 2; i < 10; i++) {
                length = (length << 8) | buf[pos + i];
            }
            if (length >> 63) {
                break;
            }
            header = 10;
        }
        if ((max_size && length > max_size) ||
            length > (unsigned long long)(end - pos - header)) {
            break;
        }
        payload = (const char *)buf + pos + header;
        if (b0 == 0x81) {
            PyObject *text = PyUnicode_DecodeUTF8(payload, (Py_ssize_t)length, NULL);
            if (text == NULL) {
                /* Invalid UTF-8: the Python parser reports it. */
                PyErr_Clear();
                break;
            }
            if (decode_text) {
                data = text;
            }
            else {
                Py_DECREF(text);
                data = PyBytes_FromStringAndSize(payload, (Py_ssize_t)length);
            }
            type = PyTuple_GET_ITEM(spec, 2);
            cls = text_class;
        }
        else {
            data = PyBytes_FromStringAndSize(payload, (Py_ssize_t)length);
            type = PyTuple_GET_ITEM(spec, 3);
            cls = binary_class;
        }
        if (data == NULL) {
            goto error;
        }
        msg = new_message(cls, type, data, extra);
        if (msg == NULL) {
            goto error;
        }
        if (PyList_Append(out, msg) < 0) {
            Py_DECREF(msg);
            goto error;
        }
        Py_DECREF(msg);
        pos += header + (Py_ssize_t)length;
    }
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(pos);

error:
    PyBuffer_Release(&view);
    return NULL;
}

/* new_payload(n) -> (bytes, memoryview): a bytes object of n bytes, not yet
 * filled, and a writable view of its storage.
 *
 * A large binary message is read from the socket straight into the object
 * the application gets (see FrameParser.read_into), instead of into a
 * bytearray copied into a bytes at the end: one copy of the whole payload
 * less.  This is safe because nothing but the parser refers to the bytes
 * until it is filled: it is not hashed or shared before.  The view refers
 * to a PayloadWriter holding the bytes, so the storage outlives any view.
 * The pure-Python equivalent is parser.py_new_payload (a bytearray). */
typedef struct {
    PyObject_HEAD
    PyObject *bytes;
} PayloadWriter;

static int
payload_writer_getbuffer(PayloadWriter *self, Py_buffer *view, int flags)
{
    return PyBuffer_FillInfo(view, (PyObject *)self,
                             PyBytes_AS_STRING(self->bytes),
                             PyBytes_GET_SIZE(self->bytes), 0, flags);
}

static void
payload_writer_dealloc(PayloadWriter *self)
{
    Py_XDECREF(self->bytes);
    PyObject_Free(self);
}

static PyBufferProcs payload_writer_as_buffer = {
    (getbufferproc)payload_writer_getbuffer,
    NULL,
};

static PyTypeObject PayloadWriterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "aiows.core._speedups.PayloadWriter",
    .tp_basicsize = sizeof(PayloadWriter),
    .tp_dealloc = (destructor)payload_writer_dealloc,
    .tp_as_buffer = &payload_writer_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The writable storage of a bytes object being filled.",
};

static PyObject *
new_payload(PyObject *self, PyObject *arg)
{
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    PyObject *bytes, *view;
    PayloadWriter *writer;

    if (n == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "size must not be negative");
        return NULL;
    }
    bytes = PyBytes_FromStringAndSize(NULL, n);
    if (bytes == NULL) {
        return NULL;
    }
    writer = PyObject_New(PayloadWriter, &PayloadWriterType);
    if (writer == NULL) {
        Py_DECREF(bytes);
        return NULL;
    }
    Py_INCREF(bytes);
    writer->bytes = bytes;
    view = PyMemoryView_FromObject((PyObject *)writer);
    Py_DECREF(writer);
    if (view == NULL) {
        Py_DECREF(bytes);
        return NULL;
    }
    return Py_BuildValue("(NN)", bytes, view);
}

/* Where the frame at `pos` ends and how long its payload is, if it is a
 * whole, unmasked CONTINUATION frame with RSV bits clear; -1 otherwise.
 * `fin` is set to its FIN bit. */
static Py_ssize_t
continuation_end(const unsigned char *buf, Py_ssize_t pos, Py_ssize_t end,
                 Py_ssize_t *payload_start, int *fin)
{
    unsigned char b0, b1;
    unsigned long long length;
    Py_ssize_t header = 2;

    if (end - pos < 2) {
        return -1;
    }
    b0 = buf[pos];
    b1 = buf[pos + 1];
    if ((b0 != 0x00 && b0 != 0x80) || (b1 & 0x80)) {
        return -1;
    }
    length = b1 & 0x7F;
    if (length == 126) {
        if (end - pos < 4) {
            return -1;
        }
        length = ((unsigned long long)buf[pos + 2] << 8) | buf[pos + 3];
        header = 4;
    }
    else if (length == 127) {
        int i;
        if (end - pos < 10) {
            return -1;
        }
        length = 0;
        for (i = 2; i < 10; i++) {
            length = (length << 8) | buf[pos + i];
        }
        if (length >> 63) {
            return -1;
        }
        header = 10;
    }
    if (length > (unsigned long long)(end - pos - header)) {
        return -1;
    }
    *payload_start = pos + header;
    *fin = b0 == 0x80;
    return pos + header + (Py_ssize_t)length;
}

/* scan_continuations(data, pos, limit) -> (new pos, payload, fin)
 *
 * Consumes the run of whole, unmasked, uncompressed CONTINUATION frames
 * from `pos` on, up to and including one with FIN set, whose payloads add
 * up to at most `limit` bytes (-1: no limit), and returns their payloads
 * joined.  Anything else ends the run and is left to the Python parser,
 * which applies every rule: a message of many tiny fragments then costs a
 * C loop per read instead of a Python loop per frame. */
static PyObject *
scan_continuations(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    Py_ssize_t pos, end, limit, cursor, total = 0, payload_start, next;
    int fin = 0, last_fin = 0;
    const unsigned char *buf;
    PyObject *payload, *result;
    char *out;

    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "scan_continuations(data, pos, limit)");
        return NULL;
    }
    pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred()) {
        return NULL;
    }
    limit = PyLong_AsSsize_t(args[2]);
    if (limit == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    buf = (const unsigned char *)view.buf;
    end = view.len;

    /* First pass: how far the run goes and how much it carries. */
    cursor = pos;
    while (!last_fin &&
           (next = continuation_end(buf, cursor, end, &payload_start, &fin)) >= 0) {
        if (limit >= 0 && total + (next - payload_start) > limit) {
            break;
        }
        total += next - payload_start;
        cursor = next;
        last_fin = fin;
    }
    payload = PyBytes_FromStringAndSize(NULL, total);
    if (payload == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    /* Second pass: copy the payloads. */
    out = PyBytes_AS_STRING(payload);
    next = pos;
    while (next < cursor) {
        Py_ssize_t frame_end = continuation_end(buf, next, end, &payload_start, &fin);
        memcpy(out, buf + payload_start, (size_t)(frame_end - payload_start));
        out += frame_end - payload_start;
        next = frame_end;
    }
    PyBuffer_Release(&view);
    result = Py_BuildValue("(nNO)", cursor, payload, last_fin ? Py_True : Py_False);
    return result;
}

static PyMethodDef methods[] = {
    {"new_payload", (PyCFunction)new_payload, METH_O,
     "new_payload(n) -> (bytes, writable memoryview of it)"},
    {"build_frame", (PyCFunction)(void (*)(void))build_frame, METH_FASTCALL,
     "build_frame(b0, key, data) -> a whole masked frame"},
    {"build_frame_into", (PyCFunction)(void (*)(void))build_frame_into, METH_FASTCALL,
     "build_frame_into(b0, key, data, out) -> the frame's length, written into out"},
    {"scan_continuations", (PyCFunction)(void (*)(void))scan_continuations,
     METH_FASTCALL, "scan_continuations(data, pos, limit) -> (pos, payload, fin)"},
    {"scan_messages", (PyCFunction)(void (*)(void))scan_messages, METH_FASTCALL,
     "scan_messages(data, pos, max_size, decode_text, out, spec) -> new pos"},
    {"apply_mask", (PyCFunction)(void (*)(void))apply_mask, METH_FASTCALL,
     "apply_mask(key, data) -> data XOR key"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "aiows.core._speedups",
    "Compiled masking for the aiows protocol core.", -1, methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    if (PyType_Ready(&PayloadWriterType) < 0) {
        return NULL;
    }
    return PyModule_Create(&module);
}
