/*
 * ais_datasets._tarscan: the compiled fast path of ais_datasets.tario.
 *
 * Two functions over one ``bytes`` chunk of a tar stream:
 *
 *   header(buf, pos) -> (name, size) | None
 *       The header block at ``pos`` when it is a plain regular-file header (ustar or
 *       v7, no extended header before it) whose octal fields and unsigned checksum are
 *       valid and that lies wholly in ``buf``; otherwise None.
 *
 *   scan(buf, pos[, budget]) -> (end, [(key, ext, data, header_pos), ...])
 *       Every consecutive member from ``pos`` on that such a header describes and whose
 *       data and padding lie wholly in ``buf``; ``end`` is the position after the last
 *       one. ``key``/``ext`` split the name by the WebDataset rule; members whose name
 *       has no key (no dot in the last component, or a leading one) are stepped over
 *       and not listed. The scan also stops once the listed members' data reaches
 *       ``budget`` bytes (it always lists at least one member when it can): the copies
 *       made ahead of the consumer stay bounded, and so does the allocator's churn.
 *
 * Both stop (None, or a shorter list) at anything else: an extended header, another
 * entry type, an all-zero block, a field Python's parser reads differently or rejects,
 * a checksum that only the signed sum matches, a block or member cut by the chunk's
 * end. The pure-Python parser then handles that entry and every error, so this module
 * never decides an error and never accepts what the Python parser would read
 * otherwise. Field rules accepted here are a strict subset of the shared decoder's
 * (ais_tar/header.py): octal digits with optional leading spaces, terminated as tarfile
 * writes them. A sign, a base-256 field or anything else odd is left to Python, which
 * rejects a negative, non-octal or overflowing size; sizes here are at most 8**11 - 1,
 * so nothing overflows and every member moves the position forward.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define BLOCK 512

/* Octal digits with optional leading spaces filling ``n`` bytes; -1 when not that. */
static long long
octal(const unsigned char *p, Py_ssize_t n)
{
    Py_ssize_t i = 0;
    long long value = 0;
    while (i < n && p[i] == ' ')
        i++;
    if (i == n)
        return -1;
    for (; i < n; i++) {
        unsigned char c = p[i];
        if (c < '0' || c > '7')
            return -1;
        value = (value << 3) | (c - '0');
    }
    return value;
}

/* The member size of a plain regular-file header at ``h``, or -1 when it is not one. */
static long long
plain_size(const unsigned char *h)
{
    unsigned char type = h[156];
    const unsigned char *name_end = memchr(h, 0, 100);
    long long stored, size, sum = 0;
    int i;

    if (h[0] == 0 || !(type == '0' || type == 0 || type == '7'))
        return -1;
    if (type == 0 && h[(name_end ? name_end - h : 100) - 1] == '/')
        return -1; /* an old-style directory */
    if (h[154] != 0 || !(h[135] == 0 || h[135] == ' '))
        return -1;
    stored = octal(h + 148, 6);
    size = octal(h + 124, 11);
    if (stored < 0 || size < 0)
        return -1;
    for (i = 0; i < BLOCK; i++)
        sum += h[i];
    for (i = 148; i < 156; i++)
        sum -= h[i];
    if (stored != sum + 8 * ' ')
        return -1;
    return size;
}

/* The member name of the header at ``h`` as bytes in ``out`` (at most 256 bytes). */
static Py_ssize_t
plain_name(const unsigned char *h, unsigned char *out)
{
    const unsigned char *end = memchr(h, 0, 100);
    Py_ssize_t len = end ? end - h : 100, n = 0;

    if (h[345] && memcmp(h + 257, "ustar\0" "00", 8) == 0) {
        const unsigned char *pend = memchr(h + 345, 0, 155);
        Py_ssize_t plen = pend ? pend - (h + 345) : 155;
        memcpy(out, h + 345, plen);
        out[plen] = '/';
        n = plen + 1;
    }
    memcpy(out + n, h, len);
    return n + len;
}

static PyObject *
decode(const unsigned char *s, Py_ssize_t n)
{
    return PyUnicode_DecodeUTF8((const char *)s, n, "surrogateescape");
}

/* Fill ``view`` with the chunk (any C-contiguous bytes-like object) and read ``pos``;
 * on success the caller releases ``view``. */
static int
chunk_args(PyObject *const *args, Py_ssize_t nargs, const char *fname, Py_buffer *view,
           Py_ssize_t *pos)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "%s() takes 2 arguments (%zd given)", fname, nargs);
        return -1;
    }
    *pos = PyLong_AsSsize_t(args[1]);
    if (*pos == -1 && PyErr_Occurred())
        return -1;
    if (*pos < 0) {
        PyErr_SetString(PyExc_ValueError, "negative position");
        return -1;
    }
    if (PyObject_GetBuffer(args[0], view, PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    if (view->itemsize != 1) {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_TypeError, "%s() needs a buffer of bytes", fname);
        return -1;
    }
    return 0;
}

static PyObject *
tarscan_header(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    const unsigned char *buf;
    unsigned char name[256];
    Py_ssize_t len, pos, n;
    long long size;
    PyObject *str;

    (void)module;
    if (chunk_args(args, nargs, "header", &view, &pos) < 0)
        return NULL;
    buf = (const unsigned char *)view.buf;
    len = view.len;
    if (pos > len || len - pos < BLOCK || (size = plain_size(buf + pos)) < 0) {
        PyBuffer_Release(&view);
        Py_RETURN_NONE;
    }
    n = plain_name(buf + pos, name);
    PyBuffer_Release(&view);
    str = decode(name, n);
    if (str == NULL)
        return NULL;
    return Py_BuildValue("(NL)", str, size);
}

static PyObject *
tarscan_scan(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    const unsigned char *buf;
    unsigned char name[256];
    Py_ssize_t len, pos, n, slash, dot, i, budget = PY_SSIZE_T_MAX;
    long long size, taken = 0;
    PyObject *items, *key = NULL, *ext = NULL, *data = NULL, *item;

    (void)module;
    if (nargs == 3) {
        budget = PyLong_AsSsize_t(args[2]);
        if (budget == -1 && PyErr_Occurred())
            return NULL;
        nargs = 2;
    }
    if (chunk_args(args, nargs, "scan", &view, &pos) < 0)
        return NULL;
    buf = (const unsigned char *)view.buf;
    len = view.len;
    items = PyList_New(0);
    if (items == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    while (pos <= len && len - pos >= BLOCK && taken < budget) {
        const unsigned char *h = buf + pos;
        Py_ssize_t data_at, padded;
        if ((size = plain_size(h)) < 0)
            break;
        data_at = pos + BLOCK;
        padded = (Py_ssize_t)size + (Py_ssize_t)((BLOCK - size % BLOCK) % BLOCK);
        if (padded > len - data_at)
            break;
        n = plain_name(h, name);
        slash = 0;
        for (i = n - 1; i >= 0; i--) {
            if (name[i] == '/') {
                slash = i + 1;
                break;
            }
        }
        dot = -1;
        for (i = slash; i < n; i++) {
            if (name[i] == '.') {
                dot = i;
                break;
            }
        }
        if (dot > slash) {
            taken += size;
            key = decode(name, dot);
            ext = key ? decode(name + dot + 1, n - dot - 1) : NULL;
            data = ext ? PyBytes_FromStringAndSize((const char *)buf + data_at,
                                                   (Py_ssize_t)size) : NULL;
            if (data == NULL)
                goto fail;
            item = PyTuple_New(4);
            if (item == NULL)
                goto fail;
            PyTuple_SET_ITEM(item, 0, key);
            PyTuple_SET_ITEM(item, 1, ext);
            PyTuple_SET_ITEM(item, 2, data);
            key = ext = data = NULL;
            PyObject *at = PyLong_FromSsize_t(pos);
            if (at == NULL) {
                Py_DECREF(item);
                goto fail;
            }
            PyTuple_SET_ITEM(item, 3, at);
            if (PyList_Append(items, item) < 0) {
                Py_DECREF(item);
                goto fail;
            }
            Py_DECREF(item);
        }
        pos = data_at + padded;
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("(nN)", pos, items);

fail:
    PyBuffer_Release(&view);
    Py_XDECREF(key);
    Py_XDECREF(ext);
    Py_XDECREF(data);
    Py_DECREF(items);
    return NULL;
}

static PyMethodDef tarscan_methods[] = {
    {"header", (PyCFunction)(void (*)(void))tarscan_header, METH_FASTCALL,
     "header(buf, pos) -> (name, size) of a plain regular-file header at pos, or None."},
    {"scan", (PyCFunction)(void (*)(void))tarscan_scan, METH_FASTCALL,
     "scan(buf, pos[, budget]) -> (end, [(key, ext, data, header_pos), ...]) of the plain "
     "members lying wholly in buf from pos on, up to budget bytes of data."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef tarscan_module = {
    PyModuleDef_HEAD_INIT, "_tarscan",
    "Compiled fast path of ais_datasets.tario (see that module).", -1, tarscan_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__tarscan(void)
{
    return PyModule_Create(&tarscan_module);
}
