/* The rewriter's fast path for plain URL and srcset values, in C.
 *
 * rewriter.py holds the reference (_Document.plain_value and .replacement, with
 * formats/srcset.py's srcset_url_spans and safe_in_srcset, html/charrefs.py's
 * escape_attribute): tests run both over the same documents and require
 * identical output. This module exists for speed only. On pages dense with
 * images (an upload URL every couple of hundred bytes) the Python steps per URL
 * occurrence (slice, split the srcset, look up the replacement, queue the edit)
 * and per tag cost more than scanning the whole page; here they are one C loop
 * over the tokenizer's events, Python runs map_url once per distinct URL of a
 * page and sees only the tags that need its general path.
 *
 * plain_tags(doc, events, tag_kinds, any_tag, known, mapped, map_url, encoding,
 *            edits[, marker]) -> list
 *
 *   doc        the document (bytes)
 *   events     the list _tokenizer.scan returned for it (_tokenizer.c describes it)
 *   tag_kinds  dict tag name (lowercase bytes) -> kinds; any_tag: the kinds of
 *              tags not in it. kinds: dict attribute name (bytes) -> 1 (the value
 *              is one URL) or 2 (a srcset list); hits with other names are not
 *              handled here
 *   known      a tuple of four dicts url (str) -> replacement (bytes, escaped and
 *              encoded) or None (kept), for URLs in a double-quoted value, in a
 *              double-quoted srcset, in a single-quoted value and in a
 *              single-quoted srcset; filled in as URLs are met
 *   mapped     dict url (str) -> map_url's answer, the page's memo (shared with
 *              the Python path); map_url is called for URLs not in it
 *   encoding   the document's encoding, for replacements that are not ASCII
 *   edits      a list; (start, end, replacement) is appended for every URL
 *              occurrence whose replacement is not None
 *   marker     optional, lowercase bytes: a raw text that does not hold it (ASCII
 *              case ignored) is dropped, and so is the tag just before it when
 *              that tag has no hits and ends where the raw text starts. Only for
 *              callers whose tags reported by name are script and style alone:
 *              _Document.raw_text, the reference, reads nothing in such a text
 *
 * Returns the events left for the general path, in order: raw texts and tags
 * reported with their attributes (by name, and script and style) as they were;
 * other tags with the hits not handled here (other kinds, unquoted values, values
 * holding '&' or a non-ASCII byte, which need decoding and whose offsets are not
 * character offsets, single URLs with a byte <= 0x20 at either end), dropped when
 * none is left.
 *
 * find_ci(doc, needle, start, end) -> int
 *
 *   The index of the first occurrence of needle (bytes without A-Z) in
 *   doc[start:end], comparing ASCII letters without case; -1 if there is none.
 *   rewriter.py's _find_ci is the reference: doc[start:end].lower().find(needle),
 *   which copies the text twice, where this copies nothing.
 *
 * splice(doc, edits) -> bytes
 *
 *   doc with the edits, (start, end, bytes) sorted by (start, end), applied in one
 *   pass; an edit that overlaps an earlier one is dropped (rewriter.py's splice,
 *   the reference, says why). One allocation and one copy per piece: the Python
 *   loop's slices and join cost more than the copying on pages with many edits.
 *
 * srcset lists are split as formats/srcset.py's pattern does (WHATWG "parse a
 * srcset attribute" as far as finding URLs goes): skip whitespace and commas; the
 * URL runs to the next whitespace, less trailing commas (which then end the
 * candidate); otherwise descriptors run to the next comma outside parentheses.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

enum { ONE_URL = 1, SRCSET = 2 };

static int
is_space(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f';
}

/* What one call works on: the page's tables and where its edits go. */
typedef struct {
    PyObject *known;       /* tuple of four dicts: url -> replacement bytes or None */
    PyObject *mapped;      /* dict url -> map_url's answer (str or None), per page */
    PyObject *map_url;
    const char *encoding;  /* the document's, for replacements that are not ASCII */
    PyObject *edits;
    const unsigned char *marker;  /* raw texts without it are dropped; none if empty */
    Py_ssize_t marker_size;
} Page;

static PyObject *AMP, *AMP_REF, *DQUOTE, *DQUOTE_REF, *SQUOTE, *SQUOTE_REF;

/* Whether url reads back as one whole URL in a srcset: no whitespace, no comma at
 * either end (formats/srcset.py's safe_in_srcset). */
static int
safe_in_srcset(PyObject *url)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(url);
    int kind = PyUnicode_KIND(url);
    const void *data = PyUnicode_DATA(url);
    if (n == 0 || PyUnicode_READ(kind, data, 0) == ',' || PyUnicode_READ(kind, data, n - 1) == ',')
        return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c < 128 && is_space((unsigned char)c))
            return 0;
    }
    return 1;
}

/* new with every `from` replaced by `to`; steals the reference to new. */
static PyObject *
replace_all(PyObject *new, PyObject *from, PyObject *to)
{
    if (new == NULL)
        return NULL;
    PyObject *out = PyUnicode_Replace(new, from, to, -1);
    Py_DECREF(new);
    return out;
}

/* What url becomes in a value delimited by quote q (a srcset if in_srcset): its
 * replacement escaped and encoded, or None to keep it. rewriter.py's
 * _Document.replacement is the reference. */
static PyObject *
replacement(Page *page, PyObject *url, Py_UCS4 q, int in_srcset)
{
    PyObject *new = PyDict_GetItemWithError(page->mapped, url);
    if (new != NULL) {
        Py_INCREF(new);
    }
    else {
        if (PyErr_Occurred())
            return NULL;
        new = PyObject_CallOneArg(page->map_url, url);
        if (new == NULL)
            return NULL;
        if (PyDict_SetItem(page->mapped, url, new) < 0)
            goto error;
    }
    if (new == Py_None)
        return new;
    if (!PyUnicode_Check(new)) {
        PyErr_SetString(PyExc_TypeError, "map_url must return str or None");
        goto error;
    }
    int same = PyObject_RichCompareBool(new, url, Py_EQ);
    if (same < 0)
        goto error;
    if (same || (in_srcset && !safe_in_srcset(new))) {
        Py_DECREF(new);
        Py_RETURN_NONE;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(new);
    if (PyUnicode_FindChar(new, '&', 0, n, 1) >= 0 || PyUnicode_FindChar(new, q, 0, n, 1) >= 0) {
        new = replace_all(new, AMP, AMP_REF);
        new = q == '"' ? replace_all(new, DQUOTE, DQUOTE_REF) : replace_all(new, SQUOTE, SQUOTE_REF);
        if (new == NULL)
            return NULL;
    }
    PyObject *encoded = PyUnicode_IS_ASCII(new)
                            ? PyBytes_FromStringAndSize((const char *)PyUnicode_1BYTE_DATA(new),
                                                        PyUnicode_GET_LENGTH(new))
                            : PyUnicode_AsEncodedString(new, page->encoding, "xmlcharrefreplace");
    Py_DECREF(new);
    return encoded;
error:
    Py_DECREF(new);
    return NULL;
}

/* Look up (or work out) the replacement of value[s:e] and queue its edit. */
static int
queue_url(Page *page, const char *value, Py_ssize_t offset, Py_ssize_t s, Py_ssize_t e,
          Py_UCS4 q, int in_srcset)
{
    PyObject *known = PyTuple_GET_ITEM(page->known, (q == '\'') * 2 + in_srcset);
    PyObject *url = PyUnicode_FromKindAndData(PyUnicode_1BYTE_KIND, value + s, e - s);
    if (url == NULL)
        return -1;
    PyObject *new = PyDict_GetItemWithError(known, url);
    if (new != NULL) {
        Py_INCREF(new);
    }
    else {
        if (PyErr_Occurred() || (new = replacement(page, url, q, in_srcset)) == NULL) {
            Py_DECREF(url);
            return -1;
        }
        if (PyDict_SetItem(known, url, new) < 0) {
            Py_DECREF(new);
            Py_DECREF(url);
            return -1;
        }
    }
    Py_DECREF(url);
    int result = 0;
    if (new != Py_None) {
        PyObject *edit = Py_BuildValue("(nnO)", offset + s, offset + e, new);
        result = edit == NULL ? -1 : PyList_Append(page->edits, edit);
        Py_XDECREF(edit);
    }
    Py_DECREF(new);
    return result;
}

/* Queue the edits of every URL in the srcset list value[0:n]. */
static int
queue_srcset(Page *page, const char *value, Py_ssize_t n, Py_ssize_t offset, Py_UCS4 q)
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
        if (queue_url(page, value, offset, start, end, q, 1) < 0)
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

/* Reads t[first] and t[first + 1] as a span start <= end <= size (t a tuple long
 * enough); -1 with an exception set if they are not one. */
static int
read_span(PyObject *t, Py_ssize_t first, Py_ssize_t size, const char *what, Py_ssize_t *start,
          Py_ssize_t *end)
{
    *start = PyLong_AsSsize_t(PyTuple_GET_ITEM(t, first));
    *end = PyLong_AsSsize_t(PyTuple_GET_ITEM(t, first + 1));
    if ((*start == -1 || *end == -1) && PyErr_Occurred())
        return -1;
    if (*start < 0 || *end < *start || *end > size) {
        PyErr_Format(PyExc_ValueError, "%s outside the document", what);
        return -1;
    }
    return 0;
}

/* The hits of one tag: edits queued for the plain ones, the others returned. */
static PyObject *
tag_hits(Page *page, const char *data, Py_ssize_t size, PyObject *hits, PyObject *kinds)
{
    if (!PyList_Check(hits)) {
        PyErr_SetString(PyExc_TypeError, "hits must be a list");
        return NULL;
    }
    PyObject *rest = PyList_New(0);
    if (rest == NULL)
        return NULL;
    PyObject *hit = NULL;
    for (Py_ssize_t h = 0; h < PyList_GET_SIZE(hits); h++) {
        /* Owned: looking up the kind may run Python code (a key's __eq__, a value's
         * __index__) that empties hits, and name and quote are read after that. */
        Py_XSETREF(hit, Py_NewRef(PyList_GET_ITEM(hits, h)));
        if (!PyTuple_Check(hit) || PyTuple_GET_SIZE(hit) != 4) {
            PyErr_SetString(PyExc_TypeError, "a hit is (name, value_start, value_end, quote)");
            goto error;
        }
        PyObject *name = PyTuple_GET_ITEM(hit, 0), *quote = PyTuple_GET_ITEM(hit, 3);
        Py_ssize_t start, end;
        if (read_span(hit, 1, size, "hit", &start, &end) < 0)
            goto error;
        if (!PyBytes_Check(name) || !PyUnicode_Check(quote)) {
            PyErr_SetString(PyExc_TypeError, "a hit is (bytes, int, int, str)");
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
        int failed = kind == SRCSET ? queue_srcset(page, value, n, start, q)
                                    : (n > 0 && queue_url(page, value, start, 0, n, q, 0) < 0);
        if (failed)
            goto error;
    }
    Py_XDECREF(hit);
    return rest;
error:
    Py_XDECREF(hit);
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

static Py_ssize_t search_ci(const unsigned char *d, Py_ssize_t start, Py_ssize_t end,
                            const unsigned char *m, Py_ssize_t n);
static int check_needle(PyObject *needle, const char *message);

/* A raw text without the marker, and the script or style tag reported just before it
 * when nothing else needs that tag (no hits): neither can change the page. */
static int
drop_raw_text(Page *page, const char *data, Py_ssize_t size, PyObject *event, PyObject *kept)
{
    Py_ssize_t start, end;
    if (read_span(event, 0, size, "raw text", &start, &end) < 0)
        return -1;
    if (search_ci((const unsigned char *)data, start, end, page->marker, page->marker_size) >= 0)
        return PyList_Append(kept, event);
    Py_ssize_t last = PyList_GET_SIZE(kept) - 1;
    if (last >= 0) {
        PyObject *tag = PyList_GET_ITEM(kept, last);
        Py_ssize_t tag_end;
        if (PyTuple_GET_SIZE(tag) == 5 && PyList_Check(PyTuple_GET_ITEM(tag, 3)) &&
            PyList_GET_SIZE(PyTuple_GET_ITEM(tag, 3)) == 0 &&
            (tag_end = PyLong_AsSsize_t(PyTuple_GET_ITEM(tag, 2))) == start)
            return PyList_SetSlice(kept, last, last + 1, NULL);
        if (PyErr_Occurred())
            return -1;
    }
    return 0;
}

/* One event of the tokenizer: a tag's plain hits queued, what is left appended to kept. */
static int
plain_event(Page *page, const char *data, Py_ssize_t size, PyObject *event, PyObject *tag_kinds,
            PyObject *any_tag, PyObject *kept)
{
    if (!PyTuple_Check(event) || (PyTuple_GET_SIZE(event) != 5 && PyTuple_GET_SIZE(event) != 3)) {
        PyErr_SetString(PyExc_TypeError, "an event is a tuple of 5 or 3");
        return -1;
    }
    if (PyTuple_GET_SIZE(event) == 3 && page->marker_size > 0)
        return drop_raw_text(page, data, size, event, kept);
    /* Raw texts pass, and so do tags reported with their attributes: by name (their
     * readers want every hit) and script and style (their raw text refers to them). */
    if (PyTuple_GET_SIZE(event) != 5 || PyTuple_GET_ITEM(event, 4) != Py_None)
        return PyList_Append(kept, event);
    Py_ssize_t start, name_end;
    if (read_span(event, 0, size, "tag", &start, &name_end) < 0)
        return -1;
    PyObject *kinds = kinds_of(data, start, name_end, tag_kinds, any_tag);
    if (kinds == NULL)
        return -1;
    if (!PyDict_Check(kinds)) {
        PyErr_SetString(PyExc_TypeError, "kinds tables must be dicts");
        return -1;
    }
    Py_INCREF(kinds);
    PyObject *rest = tag_hits(page, data, size, PyTuple_GET_ITEM(event, 3), kinds);
    Py_DECREF(kinds);
    if (rest == NULL)
        return -1;
    int result = 0;
    if (PyList_GET_SIZE(rest) > 0) { /* the tag goes on with the hits left */
        PyObject *left = PyTuple_Pack(5, PyTuple_GET_ITEM(event, 0), PyTuple_GET_ITEM(event, 1),
                                      PyTuple_GET_ITEM(event, 2), rest, Py_None);
        result = left == NULL ? -1 : PyList_Append(kept, left);
        Py_XDECREF(left);
    }
    Py_DECREF(rest);
    return result;
}

static PyObject *
plain_tags(PyObject *module, PyObject *args)
{
    PyObject *doc, *events, *tag_kinds, *any_tag, *known, *marker = NULL;
    Page page;
    if (!PyArg_ParseTuple(args, "O!O!O!O!O!O!OsO!|O!:plain_tags", &PyBytes_Type, &doc,
                          &PyList_Type, &events, &PyDict_Type, &tag_kinds, &PyDict_Type,
                          &any_tag, &PyTuple_Type, &known, &PyDict_Type, &page.mapped,
                          &page.map_url, &page.encoding, &PyList_Type, &page.edits,
                          &PyBytes_Type, &marker))
        return NULL;
    page.marker = NULL;
    page.marker_size = 0;
    if (marker != NULL) {
        if (check_needle(marker, "plain_tags needs a marker without A-Z") < 0)
            return NULL;
        page.marker = (const unsigned char *)PyBytes_AS_STRING(marker);
        page.marker_size = PyBytes_GET_SIZE(marker);
    }
    page.known = known;
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
    PyObject *kept = PyList_New(0);
    if (kept == NULL)
        return NULL;
    /* map_url runs inside the loop: whatever it does, no object in use here is borrowed
     * from a list it could change. */
    for (Py_ssize_t e = 0; e < PyList_GET_SIZE(events); e++) {
        PyObject *event = PyList_GET_ITEM(events, e);
        Py_INCREF(event);
        int failed = plain_event(&page, data, size, event, tag_kinds, any_tag, kept);
        Py_DECREF(event);
        if (failed)
            goto error;
    }
    return kept;
error:
    Py_DECREF(kept);
    return NULL;
}

static PyObject *
splice(PyObject *module, PyObject *args)
{
    PyObject *doc, *edits;
    if (!PyArg_ParseTuple(args, "O!O!:splice", &PyBytes_Type, &doc, &PyList_Type, &edits))
        return NULL;
    const char *data = PyBytes_AS_STRING(doc);
    Py_ssize_t size = PyBytes_GET_SIZE(doc), count = PyList_GET_SIZE(edits);
    /* First pass: check every edit and work out the size of the result. */
    Py_ssize_t total = size, pos = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *edit = PyList_GET_ITEM(edits, i);
        if (!PyTuple_Check(edit) || PyTuple_GET_SIZE(edit) != 3
            || !PyBytes_Check(PyTuple_GET_ITEM(edit, 2))) {
            PyErr_SetString(PyExc_TypeError, "an edit is (start, end, bytes)");
            return NULL;
        }
        Py_ssize_t start, end;
        if (read_span(edit, 0, size, "edit", &start, &end) < 0)
            return NULL;
        if (i > 0) {
            PyObject *prev = PyList_GET_ITEM(edits, i - 1);
            Py_ssize_t prev_start = PyLong_AsSsize_t(PyTuple_GET_ITEM(prev, 0));
            Py_ssize_t prev_end = PyLong_AsSsize_t(PyTuple_GET_ITEM(prev, 1));
            if (start < prev_start || (start == prev_start && end < prev_end)) {
                PyErr_SetString(PyExc_ValueError, "edits must be sorted by (start, end)");
                return NULL;
            }
        }
        if (start < pos)
            continue;  /* overlaps an earlier edit: dropped, as rewriter.py's splice does */
        total += PyBytes_GET_SIZE(PyTuple_GET_ITEM(edit, 2)) - (end - start);
        pos = end;
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, total);
    if (out == NULL)
        return NULL;
    char *cursor = PyBytes_AS_STRING(out);
    pos = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *edit = PyList_GET_ITEM(edits, i);
        Py_ssize_t start = PyLong_AsSsize_t(PyTuple_GET_ITEM(edit, 0));
        Py_ssize_t end = PyLong_AsSsize_t(PyTuple_GET_ITEM(edit, 1));
        if (start < pos)
            continue;
        PyObject *new = PyTuple_GET_ITEM(edit, 2);
        memcpy(cursor, data + pos, start - pos);
        cursor += start - pos;
        memcpy(cursor, PyBytes_AS_STRING(new), PyBytes_GET_SIZE(new));
        cursor += PyBytes_GET_SIZE(new);
        pos = end;
    }
    memcpy(cursor, data + pos, size - pos);
    return out;
}

static inline unsigned char
ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* Where needle (n bytes, no A-Z) first is in d[start:end], ASCII case ignored; -1 if
 * nowhere. Candidates are found with memchr for the needle's first byte in either
 * case (the next of each is kept, so every byte is scanned at most once per case),
 * then compared. */
static Py_ssize_t
search_ci(const unsigned char *d, Py_ssize_t start, Py_ssize_t end, const unsigned char *m,
          Py_ssize_t n)
{
    if (n == 0)
        return start;
    if (end - start < n)
        return -1;
    unsigned char lo = m[0], up = (lo >= 'a' && lo <= 'z') ? (unsigned char)(lo - 32) : lo;
    const unsigned char *stop = d + end - n + 1;  /* one past the last possible start */
    const unsigned char *next_lo = d + start, *next_up = up != lo ? d + start : NULL;
    const unsigned char *p = d + start;
    while (p < stop) {
        if (next_lo != NULL && next_lo < p)
            next_lo = p;
        if (next_lo != NULL && (next_lo == p || *next_lo != lo))
            next_lo = memchr(next_lo, lo, stop - next_lo);
        if (next_up != NULL && next_up < p)
            next_up = p;
        if (next_up != NULL && (next_up == p || *next_up != up))
            next_up = memchr(next_up, up, stop - next_up);
        const unsigned char *hit = next_lo;
        if (next_up != NULL && (hit == NULL || next_up < hit))
            hit = next_up;
        if (hit == NULL)
            break;
        Py_ssize_t k = 1;
        while (k < n && ascii_lower(hit[k]) == m[k])
            k++;
        if (k == n)
            return hit - d;
        p = hit + 1;
    }
    return -1;
}

static int
check_needle(PyObject *needle, const char *message)
{
    const unsigned char *m = (const unsigned char *)PyBytes_AS_STRING(needle);
    for (Py_ssize_t k = 0; k < PyBytes_GET_SIZE(needle); k++) {
        if (m[k] != ascii_lower(m[k])) {
            PyErr_SetString(PyExc_ValueError, message);
            return -1;
        }
    }
    return 0;
}

/* find_ci(doc, needle, start, end): see the top of this file. */
static PyObject *
find_ci(PyObject *module, PyObject *args)
{
    PyObject *doc, *needle;
    Py_ssize_t start, end;
    if (!PyArg_ParseTuple(args, "O!O!nn:find_ci", &PyBytes_Type, &doc, &PyBytes_Type, &needle,
                          &start, &end))
        return NULL;
    Py_ssize_t size = PyBytes_GET_SIZE(doc);
    if (start < 0 || end < start || end > size) {
        PyErr_SetString(PyExc_ValueError, "find_ci needs 0 <= start <= end <= len(doc)");
        return NULL;
    }
    if (check_needle(needle, "find_ci needs a needle without A-Z") < 0)
        return NULL;
    return PyLong_FromSsize_t(search_ci((const unsigned char *)PyBytes_AS_STRING(doc), start,
                                        end, (const unsigned char *)PyBytes_AS_STRING(needle),
                                        PyBytes_GET_SIZE(needle)));
}

static PyMethodDef methods[] = {
    {"plain_tags", plain_tags, METH_VARARGS,
     "Queue the edits of plain URL and srcset values; return the events left for Python."},
    {"splice", splice, METH_VARARGS, "doc with sorted (start, end, bytes) edits applied."},
    {"find_ci", find_ci, METH_VARARGS,
     "Index of needle (no A-Z) in doc[start:end], ASCII case ignored; -1 if absent."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "rewriteproxy.html._values",
    "The rewriter's fast path for plain URL and srcset values (see _values.c).", -1, methods,
};

PyMODINIT_FUNC
PyInit__values(void)
{
    if (!(AMP = PyUnicode_InternFromString("&")) || !(AMP_REF = PyUnicode_FromString("&amp;"))
        || !(DQUOTE = PyUnicode_InternFromString("\""))
        || !(DQUOTE_REF = PyUnicode_FromString("&quot;"))
        || !(SQUOTE = PyUnicode_InternFromString("'"))
        || !(SQUOTE_REF = PyUnicode_FromString("&#39;")))
        return NULL;
    return PyModule_Create(&module);
}
