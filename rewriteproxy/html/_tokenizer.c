/* The scanner's tokenizer loop in C: the same reading as rewriteproxy/html/scanner.py.
 *
 * scanner.py holds the specification (its module docstring) and the pure-Python
 * implementation, which stays the reference: tests run both over the same
 * documents and require identical events. This module exists for speed only.
 * Python's regex engine reads the bytes between tags quickly, but every tag that
 * may hold an upload URL cost several regex calls and Python steps; here the whole
 * walk is one C loop and Python sees only the tags worth a look.
 *
 * scan(doc, marker, report, value_names) -> list
 * scan(doc, marker, report, value_names, start, limit) -> (list, next)
 *
 *   doc          the document (bytes, any ASCII-compatible encoding)
 *   marker       non-empty, lowercase ASCII bytes; compared case-insensitively
 *   report       tuple of lowercase tag names (bytes) always reported
 *   value_names  frozenset of lowercase attribute names (bytes) whose values
 *                holding the marker are reported
 *   start        where to read from: 0, or the next of an earlier call
 *   limit        at least 1: reading stops between tokens once the list holds
 *                limit events; next is where to go on, or -1 at the end. Read in
 *                parts, a big page never has all its events alive at once (for a
 *                10 MB page, hundreds of thousands of objects the garbage
 *                collector would walk again and again)
 *
 * The result lists, in document order:
 *   (start, name_end, end, hits, attributes)
 *                                 a reported start tag, doc[start:end] == b"<name ...>";
 *                                 hits = [(name, value_start, value_end, quote), ...]
 *                                 for the attributes named in value_names whose value
 *                                 holds the marker, first occurrences only; quote is
 *                                 '"', "'" or "" (unquoted); attributes = every
 *                                 attribute as (name, name_start, value_start,
 *                                 value_end, quote) for tags reported by name: in
 *                                 report, script, style, plaintext (quote None: no
 *                                 value); None for the others
 *   (start, end, closed)          the contents of the script or style element just reported
 *
 * A start tag is reported when its name is in report, is script, style or
 * plaintext, or when an attribute value holds the marker; the contents of textarea,
 * title, xmp, iframe, noembed and noframes are skipped, and so are those tags
 * themselves unless named in report. Tokenizing stops where the document
 * ends inside a tag, comment or declaration, and after <plaintext>.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

static int
is_space(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f';
}

static int
is_alpha(unsigned char c)
{
    c |= 0x20;
    return c >= 'a' && c <= 'z';
}

static unsigned char
lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* Is a[0:len] equal to the lowercase b[0:len], ASCII-case-insensitively? */
static int
same_lower(const unsigned char *a, const char *b, Py_ssize_t len)
{
    for (Py_ssize_t i = 0; i < len; i++) {
        if (lower(a[i]) != (unsigned char)b[i])
            return 0;
    }
    return 1;
}

static int
same_name(const unsigned char *a, const unsigned char *b, Py_ssize_t len)
{
    for (Py_ssize_t i = 0; i < len; i++) {
        if (lower(a[i]) != lower(b[i]))
            return 0;
    }
    return 1;
}

/* An attribute name seen in the current tag: doc[start:start+len]. */
typedef struct {
    Py_ssize_t start;
    Py_ssize_t len;
} Name;

/* An attribute of the current tag: its name, and its value's span and quote (0 '"', 1 "'",
 * 2 unquoted, 3 no value: then the span is empty, at the end of the name). */
typedef struct {
    Name name;
    Py_ssize_t value_start;
    Py_ssize_t value_end;
    int quote;
} Attr;

typedef struct {
    const unsigned char *doc;
    Py_ssize_t n;
    const char *marker; /* lowercase */
    Py_ssize_t marker_len;
    PyObject *report;       /* tuple of bytes */
    PyObject *value_names;  /* frozenset of bytes */
    Attr *names;            /* the attributes of the tag being read */
    Py_ssize_t names_len;
    Py_ssize_t names_cap;
    Name *checked; /* hit names already looked up in this tag: distinct value_names */
    Py_ssize_t checked_len;
    Py_ssize_t checked_cap; /* len(value_names): room for every name that can be a hit */
} Reader;

static const char *const RAW_CONTENT[] = {"script", "style", NULL};
static const char *const RAW_SKIPPED[] = {"textarea", "title", "xmp", "iframe",
                                          "noembed", "noframes", NULL};

static int
name_is(const Reader *r, Py_ssize_t start, Py_ssize_t len, const char *name)
{
    return (Py_ssize_t)strlen(name) == len && same_lower(r->doc + start, name, len);
}

static int
name_in(const Reader *r, Py_ssize_t start, Py_ssize_t len, const char *const *names)
{
    for (; *names != NULL; names++) {
        if (name_is(r, start, len, *names))
            return 1;
    }
    return 0;
}

static int
reported_name(const Reader *r, Py_ssize_t start, Py_ssize_t len)
{
    Py_ssize_t count = PyTuple_GET_SIZE(r->report);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PyTuple_GET_ITEM(r->report, i);
        if (PyBytes_GET_SIZE(item) == len && same_lower(r->doc + start, PyBytes_AS_STRING(item), len))
            return 1;
    }
    return 0;
}

/* The first needle (2 bytes here: "</", "--") at or after from; -1 if none. memchr for
 * its first byte, then a compare: memchr is vectorised in libc, while memmem on a
 * two-byte needle goes byte by byte, 9% of the time on a page with large scripts. */
static Py_ssize_t
find(const Reader *r, Py_ssize_t from, const char *needle, Py_ssize_t len)
{
    if (from > r->n - len)
        return -1;
    const unsigned char *d = r->doc, *stop = r->doc + r->n - len + 1;
    const unsigned char *p = d + from;
    while (p < stop) {
        p = memchr(p, (unsigned char)needle[0], stop - p);
        if (p == NULL)
            return -1;
        if (memcmp(p + 1, needle + 1, len - 1) == 0)
            return p - d;
        p++;
    }
    return -1;
}

/* Does doc[start:end] hold the marker (ASCII-case-insensitively)? */
static int
holds_marker(const Reader *r, Py_ssize_t start, Py_ssize_t end)
{
    const unsigned char *d = r->doc;
    const unsigned char first = (unsigned char)r->marker[0];
    const Py_ssize_t rest = r->marker_len - 1;
    for (Py_ssize_t i = start; i + rest < end; i++) {
        if (lower(d[i]) == first && same_lower(d + i + 1, r->marker + 1, rest))
            return 1;
    }
    return 0;
}

/* Where the element whose contents start at pos ends: its first "</name" followed by
 * whitespace, "/" or ">"; -1 if it runs to the end of the document. */
static Py_ssize_t
find_close(const Reader *r, Py_ssize_t pos, Py_ssize_t name_start, Py_ssize_t name_len)
{
    for (;;) {
        Py_ssize_t at = find(r, pos, "</", 2);
        if (at < 0 || at + 2 + name_len >= r->n)
            return -1;
        unsigned char after = r->doc[at + 2 + name_len];
        if (same_name(r->doc + at + 2, r->doc + name_start, name_len) &&
            (is_space(after) || after == '/' || after == '>'))
            return at;
        pos = at + 1;
    }
}

static int
remember(Reader *r, Py_ssize_t start, Py_ssize_t len, Py_ssize_t value_start, Py_ssize_t value_end,
         int quote)
{
    if (r->names_len == r->names_cap) {
        Py_ssize_t cap = r->names_cap ? 2 * r->names_cap : 32;
        Attr *grown = PyMem_Realloc(r->names, cap * sizeof(Attr));
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        r->names = grown;
        r->names_cap = cap;
    }
    Attr *attr = &r->names[r->names_len++];
    attr->name.start = start;
    attr->name.len = len;
    attr->value_start = value_start;
    attr->value_end = value_end;
    attr->quote = quote;
    return 0;
}

/* Was the attribute name doc[start:start+len] used earlier in this tag? Browsers read
 * only the first of duplicates. A hit's name is compared with the names checked before it
 * in this tag, then with every earlier attribute. Every hit name is in value_names, so
 * checked never holds more than len(value_names) names and the long comparison runs at
 * most that many times per tag: the cost stays linear in the tag, however many names
 * are configured. */
static int
seen_before(Reader *r, Py_ssize_t start, Py_ssize_t len)
{
    for (Py_ssize_t i = 0; i < r->checked_len; i++) {
        const Name *name = &r->checked[i];
        if (name->len == len && same_name(r->doc + name->start, r->doc + start, len))
            return 1;
    }
    if (r->checked_len < r->checked_cap) {
        r->checked[r->checked_len].start = start;
        r->checked[r->checked_len].len = len;
        r->checked_len++;
    }
    for (Py_ssize_t i = 0; i < r->names_len; i++) {
        const Name *name = &r->names[i].name;
        if (name->len == len && same_name(r->doc + name->start, r->doc + start, len))
            return 1;
    }
    return 0;
}

static PyObject *QUOTES[4]; /* '"', "'", "", None */

/* Reads the attributes of the tag whose name ends at pos. Returns the position after its
 * ">", -1 if the document ends inside the tag, -2 on a Python error. Sets *marked when a
 * value holds the marker and appends the hits to hits (an end tag passes NULL). */
static Py_ssize_t
read_attributes(Reader *r, Py_ssize_t pos, PyObject *hits, int *marked)
{
    const unsigned char *d = r->doc;
    const Py_ssize_t n = r->n;
    r->names_len = 0;
    r->checked_len = 0;
    for (;;) {
        while (pos < n && (is_space(d[pos]) || d[pos] == '/'))
            pos++;
        if (pos >= n)
            return -1;
        if (d[pos] == '>')
            return pos + 1;
        /* A name: its first byte may be "=" (or a quote), the rest stops at "=" too. */
        Py_ssize_t name_start = pos++;
        while (pos < n && !is_space(d[pos]) && d[pos] != '/' && d[pos] != '=' && d[pos] != '>')
            pos++;
        Py_ssize_t name_len = pos - name_start;
        Py_ssize_t value_start = pos, value_end = pos;
        int quote = 3;
        Py_ssize_t q = pos;
        while (q < n && is_space(d[q]))
            q++;
        if (q < n && d[q] == '=') {
            q++;
            while (q < n && is_space(d[q]))
                q++;
            if (q >= n)
                return -1;
            unsigned char c = d[q];
            if (c == '"' || c == '\'') {
                const unsigned char *close = memchr(d + q + 1, c, n - q - 1);
                if (close == NULL)
                    return -1;
                value_start = q + 1;
                value_end = close - d;
                pos = value_end + 1;
                quote = c == '"' ? 0 : 1;
            }
            else {
                value_start = q;
                while (q < n && !is_space(d[q]) && d[q] != '>')
                    q++;
                value_end = pos = q;
                quote = 2;
            }
            if (hits != NULL && value_end > value_start && holds_marker(r, value_start, value_end)) {
                *marked = 1;
                PyObject *name = PyBytes_FromStringAndSize(NULL, name_len);
                if (name == NULL)
                    return -2;
                char *lowered = PyBytes_AS_STRING(name);
                for (Py_ssize_t i = 0; i < name_len; i++)
                    lowered[i] = (char)lower(d[name_start + i]);
                int wanted = PySet_Contains(r->value_names, name);
                if (wanted < 0) {
                    Py_DECREF(name);
                    return -2;
                }
                if (wanted && !seen_before(r, name_start, name_len)) {
                    PyObject *hit = Py_BuildValue("(NnnO)", name, value_start, value_end, QUOTES[quote]);
                    if (hit == NULL || PyList_Append(hits, hit) < 0) {
                        Py_XDECREF(hit);
                        return -2;
                    }
                    Py_DECREF(hit);
                }
                else {
                    Py_DECREF(name);
                }
            }
        }
        /* Without "=" the attribute has no value; the whitespace after it is read as a
         * separator by the next round. */
        if (remember(r, name_start, name_len, value_start, value_end, quote) < 0)
            return -2;
    }
}

/* The end of the comment whose "<!--" is at pos, or -1 if it runs to the end. */
static Py_ssize_t
comment_end(const Reader *r, Py_ssize_t pos)
{
    const unsigned char *d = r->doc;
    Py_ssize_t p = pos + 4;
    if (p < r->n && d[p] == '>')
        return p + 1; /* "<!-->" */
    if (p + 1 < r->n && d[p] == '-' && d[p + 1] == '>')
        return p + 2; /* "<!--->" */
    for (;;) {
        Py_ssize_t at = find(r, p, "--", 2);
        if (at < 0)
            return -1;
        if (at + 2 < r->n && d[at + 2] == '>')
            return at + 3;
        if (at + 3 < r->n && d[at + 2] == '!' && d[at + 3] == '>')
            return at + 4;
        p = at + 1;
    }
}

static Py_ssize_t
bogus_end(const Reader *r, Py_ssize_t pos)
{
    const unsigned char *gt = memchr(r->doc + pos, '>', r->n - pos);
    return gt == NULL ? -1 : gt - r->doc + 1;
}

/* The attributes of the tag just read, as (name, name_start, value_start, value_end, quote)
 * tuples; names lowercased as scanner.py does (latin-1, then str.lower). */
static PyObject *
attributes(const Reader *r)
{
    PyObject *list = PyList_New(r->names_len);
    if (list == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < r->names_len; i++) {
        const Attr *a = &r->names[i];
        const unsigned char *raw = r->doc + a->name.start;
        int ascii = 1;
        char small[64];
        char *lowered = a->name.len <= (Py_ssize_t)sizeof small ? small : PyMem_Malloc(a->name.len);
        if (lowered == NULL) {
            Py_DECREF(list);
            return PyErr_NoMemory();
        }
        for (Py_ssize_t k = 0; k < a->name.len; k++) {
            lowered[k] = (char)lower(raw[k]);
            ascii &= raw[k] < 0x80;
        }
        PyObject *name = PyUnicode_DecodeLatin1(lowered, a->name.len, NULL);
        if (lowered != small)
            PyMem_Free(lowered);
        if (name != NULL && !ascii)
            Py_SETREF(name, PyObject_CallMethod(name, "lower", NULL));
        if (name == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyObject *item = Py_BuildValue("(NnnnO)", name, a->name.start, a->value_start, a->value_end,
                                       QUOTES[a->quote]);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, item);
    }
    return list;
}

static int
append_new(PyObject *list, PyObject *item)
{
    if (item == NULL)
        return -1;
    int failed = PyList_Append(list, item);
    Py_DECREF(item);
    return failed;
}

/* Reads from *pos, where the tokenizer is in its data state (0, or where an earlier
 * call stopped). Stops at such a place once out holds limit events (0: no limit),
 * with *pos there, or at the end with *pos = -1. Returns -1 on a Python error. */
static int
run(Reader *r, PyObject *out, Py_ssize_t *resume, Py_ssize_t limit)
{
    const unsigned char *d = r->doc;
    const Py_ssize_t n = r->n;
    Py_ssize_t pos = *resume;
    *resume = -1;
    while (pos < n) {
        if (limit > 0 && PyList_GET_SIZE(out) >= limit) {
            *resume = pos;
            return 0;
        }
        const unsigned char *lt = memchr(d + pos, '<', n - pos);
        if (lt == NULL)
            return 0;
        pos = lt - d;
        unsigned char c = pos + 1 < n ? d[pos + 1] : 0;
        if (is_alpha(c)) {
            Py_ssize_t name_start = pos + 1, name_end = pos + 2;
            while (name_end < n && !is_space(d[name_end]) && d[name_end] != '/' && d[name_end] != '>')
                name_end++;
            Py_ssize_t name_len = name_end - name_start;
            PyObject *hits = PyList_New(0);
            if (hits == NULL)
                return -1;
            int marked = 0;
            Py_ssize_t end = read_attributes(r, name_end, hits, &marked);
            if (end < 0) {
                Py_DECREF(hits);
                return end == -1 ? 0 : -1; /* a tag left open at the end swallows the rest */
            }
            int raw = name_in(r, name_start, name_len, RAW_CONTENT);
            int skipped = !raw && name_in(r, name_start, name_len, RAW_SKIPPED);
            int plaintext = name_is(r, name_start, name_len, "plaintext");
            int reported = raw || plaintext || reported_name(r, name_start, name_len);
            if (skipped && !reported) {
                Py_DECREF(hits); /* not asked for: tag and contents skipped, marker or not */
            }
            else if (reported) {
                PyObject *attrs = attributes(r);
                if (attrs == NULL) {
                    Py_DECREF(hits);
                    return -1;
                }
                if (append_new(out, Py_BuildValue("(nnnNN)", pos, name_end, end, hits, attrs)) < 0)
                    return -1;
            }
            else if (marked) {
                if (append_new(out, Py_BuildValue("(nnnNO)", pos, name_end, end, hits, Py_None)) < 0)
                    return -1;
            }
            else {
                Py_DECREF(hits);
            }
            pos = end;
            if (plaintext && reported)
                return 0;
            if (raw || skipped) {
                Py_ssize_t close = find_close(r, pos, name_start, name_len);
                Py_ssize_t stop = close < 0 ? n : close;
                if (raw && append_new(out, Py_BuildValue("(nnO)", pos, stop, close < 0 ? Py_False : Py_True)) < 0)
                    return -1;
                pos = stop;
            }
        }
        else if (c == '/') {
            unsigned char after = pos + 2 < n ? d[pos + 2] : 0;
            if (is_alpha(after)) { /* an end tag: read like a start tag, then ignored */
                Py_ssize_t p = pos + 3;
                while (p < n && !is_space(d[p]) && d[p] != '/' && d[p] != '>')
                    p++;
                int ignored = 0;
                Py_ssize_t end = read_attributes(r, p, NULL, &ignored);
                if (end == -2)
                    return -1;
                if (end < 0)
                    return 0;
                pos = end;
            }
            else if (pos + 2 >= n) {
                return 0;
            }
            else {
                Py_ssize_t end = bogus_end(r, pos + 2);
                if (end < 0)
                    return 0;
                pos = end;
            }
        }
        else if (c == '!' || c == '?') {
            Py_ssize_t end;
            if (c == '!' && pos + 3 < n && d[pos + 2] == '-' && d[pos + 3] == '-')
                end = comment_end(r, pos);
            else
                end = bogus_end(r, pos + 2);
            if (end < 0)
                return 0;
            pos = end;
        }
        else {
            pos++; /* a "<" that opens nothing is text */
        }
    }
    return 0;
}

static PyObject *
scan(PyObject *module, PyObject *args)
{
    Py_buffer doc, marker;
    PyObject *report, *value_names;
    Py_ssize_t start = 0, limit = 0;
    if (!PyArg_ParseTuple(args, "y*y*O!O!|nn:scan", &doc, &marker, &PyTuple_Type, &report,
                          &PyFrozenSet_Type, &value_names, &start, &limit))
        return NULL;
    PyObject *out = NULL, *events = NULL;
    int in_parts = PyTuple_GET_SIZE(args) > 4;
    if (in_parts && PyTuple_GET_SIZE(args) != 6) {
        PyErr_SetString(PyExc_TypeError, "start and limit come together");
        goto done;
    }
    if (start < 0 || start > doc.len) {
        PyErr_SetString(PyExc_ValueError, "start must lie within the document");
        goto done;
    }
    if (in_parts && limit <= 0) {
        PyErr_SetString(PyExc_ValueError, "limit must be at least 1");
        goto done;
    }
    if (marker.len == 0) {
        PyErr_SetString(PyExc_ValueError, "the marker must not be empty");
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(report); i++) {
        PyObject *item = PyTuple_GET_ITEM(report, i);
        if (!PyBytes_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "report must hold bytes");
            goto done;
        }
    }
    Reader r = {
        .doc = doc.buf,
        .n = doc.len,
        .marker = marker.buf,
        .marker_len = marker.len,
        .report = report,
        .value_names = value_names,
        .checked_cap = PySet_GET_SIZE(value_names),
    };
    r.checked = PyMem_New(Name, r.checked_cap > 0 ? r.checked_cap : 1);
    if (r.checked == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    events = PyList_New(0);
    Py_ssize_t resume = start;
    if (events != NULL && run(&r, events, &resume, limit) == 0)
        out = in_parts ? Py_BuildValue("(On)", events, resume) : Py_NewRef(events);
    Py_XDECREF(events);
    PyMem_Free(r.names);
    PyMem_Free(r.checked);
done:
    PyBuffer_Release(&doc);
    PyBuffer_Release(&marker);
    return out;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, "The start tags and raw texts a consumer needs (see the module)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_tokenizer", "The scanner's tokenizer loop in C.", -1, methods,
};

PyMODINIT_FUNC
PyInit__tokenizer(void)
{
    QUOTES[0] = PyUnicode_InternFromString("\"");
    QUOTES[1] = PyUnicode_InternFromString("'");
    QUOTES[2] = PyUnicode_InternFromString("");
    QUOTES[3] = Py_None;
    if (QUOTES[0] == NULL || QUOTES[1] == NULL || QUOTES[2] == NULL)
        return NULL;
    return PyModule_Create(&module);
}
