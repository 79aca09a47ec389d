/* The rewriter's fast path for plain URL and srcset values, in C.
 *
 * rewriter.py holds the reference (_Document.plain_value, with
 * formats/srcset.py's srcset_url_spans): tests run both over the same documents
 * and require identical output. This module exists for speed only. On pages
 * dense with images (an upload URL every couple of hundred bytes) the Python
 * steps per URL occurrence (slice, split the srcset, look up the replacement,
 * queue the edit) and per tag cost more than scanning the whole page; here they
 * are one C loop over the tokenizer's events, Python runs once per distinct URL
 * of a page (``fill``) and sees only the tags that need its general path.
 *
 * plain_tags(doc, events, tag_kinds, any_tag, known, fill, edits) -> list
 *
 *   doc        the document (bytes)
 *   events     the list _tokenizer.scan returned for it (_tokenizer.c describes it)
 *   tag_kinds  dict tag name (lowercase bytes) -> kinds; any_tag: the kinds of
 *              tags not in it. kinds: dict attribute name (bytes) -> 1 (the value
 *              is one URL) or 2 (a srcset list); hits with other names are not
 *              handled here
 *   known      a tuple of four dicts url (str) -> bytes or None, for URLs in a
 *              double-quoted value, in a double-quoted srcset, in a single-quoted
 *              value and in a single-quoted srcset
 *   fill       fill(url, quote, in_srcset) -> bytes | None: what a URL missing
 *              from its dict becomes (escaped and encoded; None keeps it); stored
 *   edits      a list; (start, end, replacement) is appended for every URL
 *              occurrence whose replacement is not None
 *
 * Returns the events left for the general path, in order: raw texts and tags
 * reported with their attributes (by name, and script and style) as they were;
 * other tags with the hits not handled here (other kinds, unquoted values, values
 * holding '&' or a non-ASCII byte, which need decoding and whose offsets are not
 * character offsets, single URLs with a byte <= 0x20 at either end), dropped when
 * none is left.
 *
 * srcset lists are split as formats/srcset.py's pattern does (WHATWG "parse a
 * srcset attribute" as far as finding URLs goes): skip whitespace and commas; the
 * URL runs to the next whitespace, less trailing commas (which then end the
 * candidate); otherwise descriptors run to the next comma outside parentheses.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

enum { ONE_URL = 1, SRCSET = 2 };

static int
is_space(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f';
}

/* Look up (or fill in) the replacement of value[s:e] and queue its edit. */
static int
queue_url(const char *value, Py_ssize_t offset, Py_ssize_t s, Py_ssize_t e, PyObject *known,
          PyObject *fill, PyObject *quote, PyObject *in_srcset, PyObject *edits)
{
    PyObject *url = PyUnicode_FromKindAndData(PyUnicode_1BYTE_KIND, value + s, e - s);
    if (url == NULL)
        return -1;
    PyObject *new = PyDict_GetItemWithError(known, url);
    if (new != NULL) {
        Py_INCREF(new);
    }
    else {
        if (PyErr_Occurred())
            goto error;
        new = PyObject_CallFunctionObjArgs(fill, url, quote, in_srcset, NULL);
        if (new == NULL)
            goto error;
        if (new != Py_None && !PyBytes_Check(new)) {
            PyErr_SetString(PyExc_TypeError, "fill must return bytes or None");
            Py_DECREF(new);
            goto error;
        }
        if (PyDict_SetItem(known, url, new) < 0) {
            Py_DECREF(new);
            goto error;
        }
    }
    Py_DECREF(url);
    int result = 0;
    if (new != Py_None) {
        PyObject *edit = Py_BuildValue("(nnO)", offset + s, offset + e, new);
        result = edit == NULL ? -1 : PyList_Append(edits, edit);
        Py_XDECREF(edit);
    }
    Py_DECREF(new);
    return result;
error:
    Py_DECREF(url);
    return -1;
}

/* Queue the edits of every URL in the srcset list value[0:n]. */
static int
queue_srcset(const char *value, Py_ssize_t n, Py_ssize_t offset, PyObject *known,
             PyObject *fill, PyObject *quote, PyObject *edits)
{
    Py_ssize_t i = 0;
    for (;;) {
        while (i < n && (is_space(value[i]) || value[i] == ','))
            i++;
        if (i >= n)
            return 0;
        Py_ssize_t start = i;
        while (i < n && !is_space(value[i]))
            i++;
        Py_ssize_t end = i;
        while (value[end - 1] == ',')  /* stops at value[start], which is no comma */
            end--;
        if (queue_url(value, offset, start, end, known, fill, quote, Py_True, edits) < 0)
            return -1;
        if (end < i)
            continue;  /* trailing commas ended the candidate */
        while (i < n && is_space(value[i]))
            i++;
        while (i < n && value[i] != ',') {  /* descriptors, commas inside () included */
            if (value[i] == '(') {
                i++;
                while (i < n && value[i] != ')')
                    i++;
            }
            if (i < n)
                i++;
        }
        if (i < n)
            i++;  /* the comma that ends the candidate */
    }
}

/* Whether value[0:n] has nothing to decode: no '&' and ASCII only. */
static int
is_plain(const unsigned char *value, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        if (value[i] == '&' || value[i] >= 0x80)
            return 0;
    }
    return 1;
}

/* The hits of one tag: edits queued for the plain ones, the others returned. */
static PyObject *
tag_hits(const char *data, Py_ssize_t size, PyObject *hits, PyObject *kinds, PyObject *known,
         PyObject *fill, PyObject *edits)
{
    if (!PyList_Check(hits)) {
        PyErr_SetString(PyExc_TypeError, "hits must be a list");
        return NULL;
    }
    PyObject *rest = PyList_New(0);
    if (rest == NULL)
        return NULL;
    for (Py_ssize_t h = 0; h < PyList_GET_SIZE(hits); h++) {
        PyObject *hit = PyList_GET_ITEM(hits, h);
        if (!PyTuple_Check(hit) || PyTuple_GET_SIZE(hit) != 4) {
            PyErr_SetString(PyExc_TypeError, "a hit is (name, value_start, value_end, quote)");
            goto error;
        }
        PyObject *name = PyTuple_GET_ITEM(hit, 0), *quote = PyTuple_GET_ITEM(hit, 3);
        Py_ssize_t start = PyLong_AsSsize_t(PyTuple_GET_ITEM(hit, 1));
        Py_ssize_t end = PyLong_AsSsize_t(PyTuple_GET_ITEM(hit, 2));
        if ((start == -1 || end == -1) && PyErr_Occurred())
            goto error;
        if (!PyBytes_Check(name) || !PyUnicode_Check(quote)) {
            PyErr_SetString(PyExc_TypeError, "a hit is (bytes, int, int, str)");
            goto error;
        }
        if (start < 0 || end < start || end > size) {
            PyErr_SetString(PyExc_ValueError, "hit outside the document");
            goto error;
        }
        PyObject *kind_obj = PyDict_GetItemWithError(kinds, name);
        if (kind_obj == NULL && PyErr_Occurred())
            goto error;
        long kind = kind_obj == NULL ? 0 : PyLong_AsLong(kind_obj);
        if (kind == -1 && PyErr_Occurred())
            goto error;
        Py_UCS4 q = PyUnicode_GET_LENGTH(quote) == 1 ? PyUnicode_READ_CHAR(quote, 0) : 0;
        const char *value = data + start;
        Py_ssize_t n = end - start;
        if ((kind != ONE_URL && kind != SRCSET) || (q != '"' && q != '\'')
            || !is_plain((const unsigned char *)value, n)
            || (kind == ONE_URL && n > 0
                && ((unsigned char)value[0] <= ' ' || (unsigned char)value[n - 1] <= ' '))) {
            if (PyList_Append(rest, hit) < 0)
                goto error;
            continue;
        }
        PyObject *dict = PyTuple_GET_ITEM(known, (q == '\'') * 2 + (kind == SRCSET));
        int failed = kind == SRCSET
                         ? queue_srcset(value, n, start, dict, fill, quote, edits)
                         : (n > 0 && queue_url(value, start, 0, n, dict, fill, quote,
                                               Py_False, edits) < 0);
        if (failed)
            goto error;
    }
    return rest;
error:
    Py_DECREF(rest);
    return NULL;
}

/* The kinds table of the tag named data[start + 1:name_end]. */
static PyObject *
kinds_of(const char *data, Py_ssize_t start, Py_ssize_t name_end, PyObject *tag_kinds,
         PyObject *any_tag)
{
    char name[32];
    Py_ssize_t n = name_end - start - 1;
    if (n <= 0 || n > (Py_ssize_t)sizeof(name))
        return any_tag;  /* no table names a tag this long */
    for (Py_ssize_t i = 0; i < n; i++) {
        char c = data[start + 1 + i];
        name[i] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
    }
    PyObject *key = PyBytes_FromStringAndSize(name, n);
    if (key == NULL)
        return NULL;
    PyObject *kinds = PyDict_GetItemWithError(tag_kinds, key);
    Py_DECREF(key);
    if (kinds == NULL && !PyErr_Occurred())
        return any_tag;
    return kinds;  /* borrowed, or NULL with an exception set */
}

static PyObject *
plain_tags(PyObject *module, PyObject *args)
{
    PyObject *doc, *events, *tag_kinds, *any_tag, *known, *fill, *edits;
    if (!PyArg_ParseTuple(args, "O!O!O!O!O!OO!:plain_tags", &PyBytes_Type, &doc, &PyList_Type,
                          &events, &PyDict_Type, &tag_kinds, &PyDict_Type, &any_tag,
                          &PyTuple_Type, &known, &fill, &PyList_Type, &edits))
        return NULL;
    if (PyTuple_GET_SIZE(known) != 4) {
        PyErr_SetString(PyExc_ValueError, "known must hold four dicts");
        return NULL;
    }
    for (int k = 0; k < 4; k++) {
        if (!PyDict_Check(PyTuple_GET_ITEM(known, k))) {
            PyErr_SetString(PyExc_TypeError, "known must hold four dicts");
            return NULL;
        }
    }
    const char *data = PyBytes_AS_STRING(doc);
    Py_ssize_t size = PyBytes_GET_SIZE(doc);
    Py_ssize_t count = PyList_GET_SIZE(events);
    PyObject *kept = PyList_New(0);
    if (kept == NULL)
        return NULL;
    for (Py_ssize_t e = 0; e < count; e++) {
        PyObject *event = PyList_GET_ITEM(events, e);
        if (!PyTuple_Check(event)) {
            PyErr_SetString(PyExc_TypeError, "an event is a tuple");
            goto error;
        }
        /* Raw texts pass, and so do tags reported with their attributes: by name (their
         * readers want every hit) and script and style (their raw text refers to them). */
        if (PyTuple_GET_SIZE(event) != 5 || PyTuple_GET_ITEM(event, 4) != Py_None) {
            if (PyList_Append(kept, event) < 0)
                goto error;
            continue;
        }
        Py_ssize_t start = PyLong_AsSsize_t(PyTuple_GET_ITEM(event, 0));
        Py_ssize_t name_end = PyLong_AsSsize_t(PyTuple_GET_ITEM(event, 1));
        if ((start == -1 || name_end == -1) && PyErr_Occurred())
            goto error;
        if (start < 0 || name_end < start || name_end > size) {
            PyErr_SetString(PyExc_ValueError, "tag outside the document");
            goto error;
        }
        PyObject *kinds = kinds_of(data, start, name_end, tag_kinds, any_tag);
        if (kinds == NULL)
            goto error;
        if (!PyDict_Check(kinds)) {
            PyErr_SetString(PyExc_TypeError, "kinds tables must be dicts");
            goto error;
        }
        PyObject *rest = tag_hits(data, size, PyTuple_GET_ITEM(event, 3), kinds, known, fill,
                                  edits);
        if (rest == NULL)
            goto error;
        int result = 0;
        if (PyList_GET_SIZE(rest) > 0) {  /* the tag goes on with the hits left */
            PyObject *left = PyTuple_Pack(5, PyTuple_GET_ITEM(event, 0),
                                          PyTuple_GET_ITEM(event, 1), PyTuple_GET_ITEM(event, 2),
                                          rest, Py_None);
            result = left == NULL ? -1 : PyList_Append(kept, left);
            Py_XDECREF(left);
        }
        Py_DECREF(rest);
        if (result < 0)
            goto error;
    }
    return kept;
error:
    Py_DECREF(kept);
    return NULL;
}

static PyMethodDef methods[] = {
    {"plain_tags", plain_tags, METH_VARARGS,
     "Queue the edits of plain URL and srcset values; return the events left for Python."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "rewriteproxy.html._values",
    "The rewriter's fast path for plain URL and srcset values (see _values.c).", -1, methods,
};

PyMODINIT_FUNC
PyInit__values(void)
{
    return PyModule_Create(&module);
}
