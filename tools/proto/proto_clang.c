/*
 * proto_clang.c - prototypes from C headers, parsed with libclang (proto.h).
 *
 * What it does: parses each header as C (gnu11, with the -I directories given, skipping
 * function bodies), visits the top-level function declarations and, for every wanted name,
 * records the return and parameter types from their canonical types (typedefs resolved, the
 * written spelling kept for comments).
 *
 * libclang (and the LLVM it pulls in: tens of megabytes) is loaded with dlopen the first time a
 * header must be parsed, never at the command's start: `cloudm run` must not pay for it.
 *
 * What it does not do: no C++ (headers are parsed as C), no macros that expand to functions,
 * no writing or caching of parse results.
 */
#include <clang-c/Index.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* ---- libclang, loaded on first use ------------------------------------------------------- */

#define CLANG_FUNCS                                                                                \
    X(clang_createIndex)                                                                           \
    X(clang_disposeIndex)                                                                          \
    X(clang_parseTranslationUnit2)                                                                 \
    X(clang_disposeTranslationUnit)                                                                \
    X(clang_getTranslationUnitCursor)                                                              \
    X(clang_visitChildren)                                                                         \
    X(clang_getCursorKind)                                                                         \
    X(clang_getCursorSpelling)                                                                     \
    X(clang_getCString)                                                                            \
    X(clang_disposeString)                                                                         \
    X(clang_getCursorType)                                                                         \
    X(clang_Cursor_getNumArguments)                                                                \
    X(clang_Cursor_getArgument)                                                                    \
    X(clang_getSpellingLocation)                                                                   \
    X(clang_getCursorLocation)                                                                     \
    X(clang_getFileName)                                                                           \
    X(clang_getResultType)                                                                         \
    X(clang_isFunctionTypeVariadic)                                                                \
    X(clang_getTypeSpelling)                                                                       \
    X(clang_getCanonicalType)                                                                      \
    X(clang_Type_getSizeOf)                                                                        \
    X(clang_getPointeeType)                                                                        \
    X(clang_isConstQualifiedType)

static struct {
#define X(f) __typeof__(&f) p_##f;
    CLANG_FUNCS
#undef X
} lc;
static int lc_state; /* 0: not tried, 1: loaded, -1: not available */

/* Load libclang; 0 or -ENOENT (with one message). */
static int lc_load(void)
{
    if (lc_state)
        return lc_state > 0 ? 0 : -ENOENT;
    static const char *const names[] = {CM_LIBCLANG_PATH, "libclang-14.so.1", "libclang.so.1",
                                        "libclang.so"};
    void *h = NULL;
    for (size_t i = 0; !h && i < sizeof(names) / sizeof(names[0]); i++)
        h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    lc_state = -1;
    if (!h) {
        fprintf(stderr, "cloudm: libclang not found (%s): no prototypes from headers\n", dlerror());
        return -ENOENT;
    }
#define X(f)                                                                                       \
    if (!(lc.p_##f = (__typeof__(&f))dlsym(h, #f))) {                                              \
        fprintf(stderr, "cloudm: libclang lacks %s: no prototypes from headers\n", #f);            \
        return -ENOENT;                                                                            \
    }
    CLANG_FUNCS
#undef X
    lc_state = 1;
    return 0;
}

/* Every call below goes through the loaded pointers. */
#define clang_createIndex lc.p_clang_createIndex
#define clang_disposeIndex lc.p_clang_disposeIndex
#define clang_parseTranslationUnit2 lc.p_clang_parseTranslationUnit2
#define clang_disposeTranslationUnit lc.p_clang_disposeTranslationUnit
#define clang_getTranslationUnitCursor lc.p_clang_getTranslationUnitCursor
#define clang_visitChildren lc.p_clang_visitChildren
#define clang_getCursorKind lc.p_clang_getCursorKind
#define clang_getCursorSpelling lc.p_clang_getCursorSpelling
#define clang_getCString lc.p_clang_getCString
#define clang_disposeString lc.p_clang_disposeString
#define clang_getCursorType lc.p_clang_getCursorType
#define clang_Cursor_getNumArguments lc.p_clang_Cursor_getNumArguments
#define clang_Cursor_getArgument lc.p_clang_Cursor_getArgument
#define clang_getSpellingLocation lc.p_clang_getSpellingLocation
#define clang_getCursorLocation lc.p_clang_getCursorLocation
#define clang_getFileName lc.p_clang_getFileName
#define clang_getResultType lc.p_clang_getResultType
#define clang_isFunctionTypeVariadic lc.p_clang_isFunctionTypeVariadic
#define clang_getTypeSpelling lc.p_clang_getTypeSpelling
#define clang_getCanonicalType lc.p_clang_getCanonicalType
#define clang_Type_getSizeOf lc.p_clang_Type_getSizeOf
#define clang_getPointeeType lc.p_clang_getPointeeType
#define clang_isConstQualifiedType lc.p_clang_isConstQualifiedType

struct visit {
    const char *const *names;
    int n;
    struct cm_proto *out;
    const char *header;
    int found;
};

static void type_of(CXType ty, struct cm_ptype *t)
{
    memset(t, 0, sizeof(*t));
    CXString sp = clang_getTypeSpelling(ty);
    snprintf(t->c, sizeof(t->c), "%s", clang_getCString(sp));
    clang_disposeString(sp);
    CXType c = clang_getCanonicalType(ty);
    long long sz = clang_Type_getSizeOf(c);
    t->size = sz > 0 ? (int)sz : 0;
    switch (c.kind) {
    case CXType_Void:
        t->kind = CM_PT_VOID;
        return;
    case CXType_Bool:
    case CXType_Char_U:
    case CXType_UChar:
    case CXType_UShort:
    case CXType_UInt:
    case CXType_ULong:
    case CXType_ULongLong:
        t->kind = CM_PT_INT;
        return;
    case CXType_Char_S:
    case CXType_SChar:
    case CXType_Short:
    case CXType_Int:
    case CXType_Long:
    case CXType_LongLong:
    case CXType_Enum:
        t->kind = CM_PT_INT;
        t->is_signed = true;
        return;
    case CXType_Float:
    case CXType_Double:
        t->kind = CM_PT_FLOAT;
        return;
    case CXType_Pointer: {
        t->kind = CM_PT_PTR;
        t->size = 8;
        CXType p = clang_getPointeeType(c);
        t->pointee_const = clang_isConstQualifiedType(p) != 0;
        struct cm_ptype in;
        type_of(p, &in);
        t->pointee = in.kind;
        t->pointee_size = in.kind == CM_PT_VOID ? 0 : in.size;
        enum CXTypeKind k = clang_getCanonicalType(p).kind;
        t->pointee_char = k == CXType_Char_S || k == CXType_Char_U; /* plain char only */
        return;
    }
    case CXType_Record:
    case CXType_ConstantArray:
        t->kind = CM_PT_AGGREGATE;
        return;
    default:
        t->kind = CM_PT_OTHER;
    }
}

static enum CXChildVisitResult visitor(CXCursor cur, CXCursor parent, CXClientData data)
{
    (void)parent;
    struct visit *v = data;
    if (clang_getCursorKind(cur) != CXCursor_FunctionDecl)
        return CXChildVisit_Continue;
    CXString s = clang_getCursorSpelling(cur);
    const char *nm = clang_getCString(s);
    for (int i = 0; i < v->n; i++) {
        struct cm_proto *p = &v->out[i];
        if (p->source != CM_PROTO_NONE || strcmp(nm, v->names[i]) != 0)
            continue;
        CXType ft = clang_getCursorType(cur);
        int na = clang_Cursor_getNumArguments(cur);
        if (na < 0 || na > CM_PROTO_MAX_PARAMS)
            continue;
        memset(p, 0, sizeof(*p));
        p->source = CM_PROTO_HEADER;
        CXFile file;
        clang_getSpellingLocation(clang_getCursorLocation(cur), &file, NULL, NULL, NULL);
        CXString fn = clang_getFileName(file);
        snprintf(p->from, sizeof(p->from), "%s",
                 clang_getCString(fn) ? clang_getCString(fn) : v->header);
        clang_disposeString(fn);
        type_of(clang_getResultType(ft), &p->ret);
        p->variadic = clang_isFunctionTypeVariadic(ft) != 0;
        p->nparams = na;
        for (int a = 0; a < na; a++) {
            CXCursor arg = clang_Cursor_getArgument(cur, (unsigned)a);
            type_of(clang_getCursorType(arg), &p->params[a]);
            CXString an = clang_getCursorSpelling(arg);
            snprintf(p->pnames[a], sizeof(p->pnames[0]), "%s", clang_getCString(an));
            clang_disposeString(an);
        }
        v->found++;
    }
    clang_disposeString(s);
    return CXChildVisit_Continue;
}

int cm_proto_clang(const char *const *headers, int nheaders, const char *const *dirs, int ndirs,
                   const char *const *names, int n, struct cm_proto *out)
{
    if (n <= 0 || nheaders <= 0)
        return 0;
    if (lc_load() != 0)
        return -ENOENT;
    CXIndex idx = clang_createIndex(0, 0);
    if (!idx)
        return -ENOMEM;
    const char *args[2 + 2 * 64];
    int na = 0;
    args[na++] = "-xc";
    args[na++] = "-std=gnu11";
    for (int i = 0; i < ndirs && i < 64; i++) {
        args[na++] = "-I";
        args[na++] = dirs[i];
    }
    struct visit v = {.names = names, .n = n, .out = out};
    int parsed = 0;
    for (int h = 0; h < nheaders && v.found < n; h++) {
        CXTranslationUnit tu = NULL;
        enum CXErrorCode e = clang_parseTranslationUnit2(
            idx, headers[h], args, na, NULL, 0,
            CXTranslationUnit_SkipFunctionBodies | CXTranslationUnit_Incomplete, &tu);
        if (e != CXError_Success || !tu)
            continue;
        parsed++;
        v.header = headers[h];
        clang_visitChildren(clang_getTranslationUnitCursor(tu), visitor, &v);
        clang_disposeTranslationUnit(tu);
    }
    clang_disposeIndex(idx);
    return parsed ? v.found : -ENOENT;
}
