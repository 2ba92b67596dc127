/*
 * test_signature.c - unit tests of the signature language (config/signature.c, sig_layout.c,
 * expr.c): every parsed field of the spec's example signatures, x86-64 SysV placement with stack
 * spills of both classes, C type spellings, normalized text, restore order, and size
 * expressions evaluated on real memory.
 *
 * What it does not do: the INI layer or messages of broken configs (test_config.c). Each test
 * runs in its own child process (cm_test.h).
 */
#include "cm_config.h"
#include "cm_test.h"
#include "config_util.h"

static void assert_param(const struct cm_param *p, uint8_t kind, uint8_t size, int cls, int reg,
                         int stack)
{
    ASSERT_EQ_INT(p->kind, kind);
    ASSERT_EQ_INT(p->size, size);
    ASSERT_EQ_INT(p->abi_class, cls);
    ASSERT_EQ_INT(p->abi_reg, reg);
    if (reg < 0)
        ASSERT_EQ_INT(p->abi_stack, stack);
}

static void test_lgamma(void)
{
    struct cm_config cfg;
    const struct cm_function *f;

    f = good("[function lgamma]\nsignature = f64 lgamma(f64 x)\nwrites = signgam:4\n", &cfg,
             "lgamma");
    REQUIRE(f != NULL);
    ASSERT_EQ_STR(f->sig.name, "lgamma");
    ASSERT_EQ_INT(f->sig.ret.kind, CM_K_FLOAT);
    ASSERT_EQ_INT(f->sig.ret.size, 8);
    ASSERT_EQ_INT(f->sig.nparams, 1);
    ASSERT_EQ_STR(f->sig.params[0].name, "x");
    assert_param(&f->sig.params[0], CM_K_FLOAT, 8, CM_ABI_SSE, 0, 0);
    ASSERT_EQ_INT(f->sig.nstack, 0);
    ASSERT_EQ_INT(f->sig.nrestore, 0);
    ASSERT_EQ_INT(f->sig.params[0].col, 12);
    ASSERT_EQ_INT(f->sig.name_col, 5);
    cm_config_free(&cfg);
}

static void test_pack(void)
{
    struct cm_config cfg;
    const struct cm_function *f;
    const struct cm_signature *s;

    f = good("[function pack]\nsignature = i32 pack(out[*outlen] out, inout[8] outlen, "
             "in[n] src, u64 n, i32 level)\n",
             &cfg, "pack");
    REQUIRE(f != NULL);
    s = &f->sig;
    ASSERT_EQ_STR(s->normalized, "i32 pack(out[*arg2], inout[8], in[arg4], u64, i32)");
    ASSERT_EQ_INT(s->ret.kind, CM_K_INT);
    ASSERT_EQ_INT(s->ret.size, 4);
    ASSERT_TRUE(s->ret.is_signed);
    REQUIRE(s->nparams == 5);
    assert_param(&s->params[0], CM_K_OUT, 8, CM_ABI_INT, 0, 0);
    assert_param(&s->params[1], CM_K_INOUT, 8, CM_ABI_INT, 1, 0);
    assert_param(&s->params[2], CM_K_IN, 8, CM_ABI_INT, 2, 0);
    assert_param(&s->params[3], CM_K_INT, 8, CM_ABI_INT, 3, 0);
    assert_param(&s->params[4], CM_K_INT, 4, CM_ABI_INT, 4, 0);
    ASSERT_TRUE(!s->params[3].is_signed);
    ASSERT_TRUE(s->params[4].is_signed);
    /* out[*outlen]: one DEREF of parameter 1, 8 bytes wide. */
    ASSERT_EQ_INT(s->params[0].size_expr.n, 1);
    ASSERT_EQ_INT(s->params[0].size_expr.ops[0].op, CM_OP_DEREF);
    ASSERT_EQ_INT(s->params[0].size_expr.ops[0].arg, 1);
    ASSERT_EQ_INT(s->params[0].size_expr.ops[0].width, 8);
    ASSERT_TRUE(s->params[0].size_expr.uses_deref);
    ASSERT_TRUE(!s->params[0].size_expr.uses_retval);
    ASSERT_EQ_INT(s->params[1].size_expr.n, 1);
    ASSERT_EQ_INT(s->params[1].size_expr.ops[0].op, CM_OP_CONST);
    ASSERT_EQ_INT(s->params[1].size_expr.ops[0].value, 8);
    ASSERT_EQ_INT(s->params[2].size_expr.ops[0].op, CM_OP_PARAM);
    ASSERT_EQ_INT(s->params[2].size_expr.ops[0].arg, 3);
    /* outlen before out (out's size reads *outlen). */
    ASSERT_EQ_INT(s->nrestore, 2);
    ASSERT_EQ_INT(s->restore_order[0], 1);
    ASSERT_EQ_INT(s->restore_order[1], 0);
    ASSERT_EQ_INT(s->nstack, 0);
    cm_config_free(&cfg);
}

/* 13 parameters: nine INTEGER-class (three on the stack) and four doubles. */
static void test_13_params(void)
{
    struct cm_signature s;
    struct msgs m;
    static const int reg[13] = {0, 0, 1, 2, 1, 3, 4, 2, 5, -1, -1, 3, -1};
    static const int cls[13] = {0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0};
    static const int slot[13] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2};
    int i;

    memset(&m, 0, sizeof(m));
    ASSERT_EQ_INT(cm_signature_parse("f64 m13(i32 a, f64 b, ptr c, str d, f64 e, in[a] f, i64 g, "
                                     "f64 h, u8 i, out[8] j, handle(k_id) k, f64 l, ignore m)",
                                     &s, "t.conf:1", 1, collect, &m),
                  0);
    ASSERT_EQ_INT(m.n, 0);
    REQUIRE(s.nparams == 13);
    for (i = 0; i < 13; i++) {
        ASSERT_EQ_INT(s.params[i].abi_class, cls[i]);
        ASSERT_EQ_INT(s.params[i].abi_reg, reg[i]);
        if (reg[i] < 0)
            ASSERT_EQ_INT(s.params[i].abi_stack, slot[i]);
    }
    ASSERT_EQ_INT(s.nstack, 3);
    ASSERT_EQ_STR(s.normalized, "f64 m13(i32, f64, ptr, str, f64, in[arg1], i64, f64, u8, out[8], "
                                "handle(k_id), f64, ignore)");
    ASSERT_EQ_STR(s.params[10].handle_fn, "k_id");
    ASSERT_TRUE(!s.params[10].handle_str);
}

/* 14 parameters: ten doubles (two on the stack) between four INTEGER-class ones. */
static void test_14_params(void)
{
    struct cm_signature s;
    struct msgs m;
    static const int reg[14] = {0, 0, 1, 2, 3, 1, 4, 5, 6, 2, 7, -1, 3, -1};
    static const int cls[14] = {1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1};
    int i;

    memset(&m, 0, sizeof(m));
    ASSERT_EQ_INT(cm_signature_parse("void m14(double, int, double, double, double, str, double, "
                                     "double, double, size_t, double, double, long, float)",
                                     &s, "t.conf:1", 1, collect, &m),
                  0);
    ASSERT_EQ_INT(m.n, 0);
    REQUIRE(s.nparams == 14);
    for (i = 0; i < 14; i++) {
        ASSERT_EQ_INT(s.params[i].abi_class, cls[i]);
        ASSERT_EQ_INT(s.params[i].abi_reg, reg[i]);
    }
    ASSERT_EQ_INT(s.params[11].abi_stack, 0);
    ASSERT_EQ_INT(s.params[13].abi_stack, 1);
    ASSERT_EQ_INT(s.params[13].size, 4);
    ASSERT_EQ_INT(s.nstack, 2);
    ASSERT_EQ_STR(s.normalized, "void m14(f64, i32, f64, f64, f64, str, f64, f64, f64, u64, f64, "
                                "f64, i64, f32)");
}

/* 16 parameters is the least that spills both classes: stack slots follow parameter order
 * across classes. */
static void test_both_classes_spill(void)
{
    struct cm_signature s;
    struct msgs m;
    int i;

    memset(&m, 0, sizeof(m));
    ASSERT_EQ_INT(cm_signature_parse("f64 m16(f64 d1, i64 i1, f64 d2, i64 i2, f64 d3, i64 i3, "
                                     "f64 d4, i64 i4, f64 d5, i64 i5, f64 d6, i64 i6, f64 d7, "
                                     "i64 i7, f64 d8, f64 d9)",
                                     &s, "t.conf:1", 1, collect, &m),
                  0);
    ASSERT_EQ_INT(m.n, 0);
    REQUIRE(s.nparams == 16);
    for (i = 0; i < 14; i += 2) {
        ASSERT_EQ_INT(s.params[i].abi_reg, i / 2); /* d1..d7: xmm0..6 */
        if (i / 2 < 6)
            ASSERT_EQ_INT(s.params[i + 1].abi_reg, i / 2); /* i1..i6: rdi..r9 */
    }
    ASSERT_EQ_INT(s.params[13].abi_class, CM_ABI_INT); /* i7 */
    ASSERT_EQ_INT(s.params[13].abi_reg, -1);
    ASSERT_EQ_INT(s.params[13].abi_stack, 0);
    ASSERT_EQ_INT(s.params[14].abi_reg, 7);            /* d8: xmm7 */
    ASSERT_EQ_INT(s.params[15].abi_class, CM_ABI_SSE); /* d9 */
    ASSERT_EQ_INT(s.params[15].abi_reg, -1);
    ASSERT_EQ_INT(s.params[15].abi_stack, 1);
    ASSERT_EQ_INT(s.nstack, 2);
}

static void test_g_f32(void)
{
    struct cm_signature s;

    ASSERT_EQ_INT(cm_signature_parse("f32 g(f32, f64, i8, u16)", &s, NULL, 1, NULL, NULL), 0);
    ASSERT_EQ_STR(s.normalized, "f32 g(f32, f64, i8, u16)");
    ASSERT_EQ_INT(s.ret.kind, CM_K_FLOAT);
    ASSERT_EQ_INT(s.ret.size, 4);
    REQUIRE(s.nparams == 4);
    assert_param(&s.params[0], CM_K_FLOAT, 4, CM_ABI_SSE, 0, 0);
    assert_param(&s.params[1], CM_K_FLOAT, 8, CM_ABI_SSE, 1, 0);
    assert_param(&s.params[2], CM_K_INT, 1, CM_ABI_INT, 0, 0);
    assert_param(&s.params[3], CM_K_INT, 2, CM_ABI_INT, 1, 0);
    ASSERT_TRUE(s.params[2].is_signed);
    ASSERT_TRUE(!s.params[3].is_signed);
    ASSERT_EQ_STR(s.params[0].name, "arg1");
    ASSERT_EQ_STR(s.params[3].name, "arg4");
}

static void test_crypt_family(void)
{
    struct cm_signature s;

    ASSERT_EQ_INT(cm_signature_parse("str crypt(str key, str salt)", &s, NULL, 1, NULL, NULL), 0);
    ASSERT_EQ_INT(s.ret.kind, CM_K_STR);
    ASSERT_EQ_INT(s.params[0].kind, CM_K_STR);
    ASSERT_EQ_STR(s.normalized, "str crypt(str, str)");

    ASSERT_EQ_INT(
        cm_signature_parse("ptr(data) crypt_r(str, str, out[32768] data)", &s, NULL, 1, NULL, NULL),
        0);
    ASSERT_EQ_INT(s.ret.kind, CM_K_RETPTR);
    ASSERT_EQ_INT(s.ret.ret_ref, 2);
    ASSERT_EQ_INT(s.params[2].kind, CM_K_OUT);
    ASSERT_EQ_INT(s.params[2].size_expr.ops[0].value, 32768);
    ASSERT_EQ_STR(s.normalized, "ptr(arg3) crypt_r(str, str, out[32768])");
    ASSERT_EQ_INT(s.nrestore, 1);
    ASSERT_EQ_INT(s.restore_order[0], 2);
    /* argN works in ptr(...) too. */
    ASSERT_EQ_INT(
        cm_signature_parse("ptr(arg3) crypt_r(str, str, out[32768])", &s, NULL, 1, NULL, NULL), 0);
    ASSERT_EQ_INT(s.ret.ret_ref, 2);

    ASSERT_EQ_INT(cm_signature_parse("mstr strdup(str s)", &s, NULL, 1, NULL, NULL), 0);
    ASSERT_EQ_INT(s.ret.kind, CM_K_MSTR);
    ASSERT_EQ_STR(s.normalized, "mstr strdup(str)");
}

static void test_evp_digest(void)
{
    struct cm_signature s;

    ASSERT_EQ_INT(cm_signature_parse("i32 EVP_Digest(in[n] data, size_t n, out[64] md, out[4] len,"
                                     " handle(EVP_MD_get_type) type, ignore impl)",
                                     &s, NULL, 1, NULL, NULL),
                  0);
    REQUIRE(s.nparams == 6);
    ASSERT_EQ_INT(s.params[4].kind, CM_K_HANDLE);
    ASSERT_EQ_STR(s.params[4].handle_fn, "EVP_MD_get_type");
    ASSERT_TRUE(!s.params[4].handle_str);
    ASSERT_EQ_INT(s.params[5].kind, CM_K_IGNORE);
    ASSERT_EQ_INT(s.params[5].abi_class, CM_ABI_INT);
    ASSERT_EQ_INT(s.params[5].abi_reg, 5);
    ASSERT_EQ_STR(
        s.normalized,
        "i32 EVP_Digest(in[arg2], u64, out[64], out[4], handle(EVP_MD_get_type), ignore)");
    ASSERT_EQ_INT(s.nrestore, 2);
    ASSERT_EQ_INT(s.restore_order[0], 2);
    ASSERT_EQ_INT(s.restore_order[1], 3);

    ASSERT_EQ_INT(cm_signature_parse("i32 f(handle(EVP_MD_name:str) md)", &s, NULL, 1, NULL, NULL),
                  0);
    ASSERT_TRUE(s.params[0].handle_str);
    ASSERT_EQ_STR(s.normalized, "i32 f(handle(EVP_MD_name:str))");
}

struct alias {
    const char *text;
    uint8_t kind, size;
    bool is_signed;
    const char *canon;
};

static void test_type_aliases(void)
{
    static const struct alias a[] = {
        {"char", CM_K_INT, 1, true, "i8"},
        {"signed char", CM_K_INT, 1, true, "i8"},
        {"unsigned char", CM_K_INT, 1, false, "u8"},
        {"short", CM_K_INT, 2, true, "i16"},
        {"unsigned short", CM_K_INT, 2, false, "u16"},
        {"short int", CM_K_INT, 2, true, "i16"},
        {"int", CM_K_INT, 4, true, "i32"},
        {"unsigned", CM_K_INT, 4, false, "u32"},
        {"unsigned int", CM_K_INT, 4, false, "u32"},
        {"signed", CM_K_INT, 4, true, "i32"},
        {"long", CM_K_INT, 8, true, "i64"},
        {"unsigned long", CM_K_INT, 8, false, "u64"},
        {"long long", CM_K_INT, 8, true, "i64"},
        {"long int", CM_K_INT, 8, true, "i64"},
        {"unsigned long long", CM_K_INT, 8, false, "u64"},
        {"size_t", CM_K_INT, 8, false, "u64"},
        {"ssize_t", CM_K_INT, 8, true, "i64"},
        {"float", CM_K_FLOAT, 4, true, "f32"},
        {"double", CM_K_FLOAT, 8, true, "f64"},
        {"bool", CM_K_INT, 1, false, "u8"},
        {"_Bool", CM_K_INT, 1, false, "u8"},
        {"int8_t", CM_K_INT, 1, true, "i8"},
        {"int16_t", CM_K_INT, 2, true, "i16"},
        {"int32_t", CM_K_INT, 4, true, "i32"},
        {"int64_t", CM_K_INT, 8, true, "i64"},
        {"uint8_t", CM_K_INT, 1, false, "u8"},
        {"uint16_t", CM_K_INT, 2, false, "u16"},
        {"uint32_t", CM_K_INT, 4, false, "u32"},
        {"uint64_t", CM_K_INT, 8, false, "u64"},
        {"const int", CM_K_INT, 4, true, "i32"},
        {"enum color", CM_K_INT, 4, true, "i32"},
        {"i8", CM_K_INT, 1, true, "i8"},
        {"u64", CM_K_INT, 8, false, "u64"},
    };
    char text[128], want[128];
    struct cm_signature s;
    size_t i;

    for (i = 0; i < sizeof(a) / sizeof(a[0]); i++) {
        snprintf(text, sizeof(text), "%s f(%s x)", a[i].text, a[i].text);
        snprintf(want, sizeof(want), "%s f(%s)", a[i].canon, a[i].canon);
        ASSERT_EQ_INT(cm_signature_parse(text, &s, NULL, 1, NULL, NULL), 0);
        ASSERT_EQ_STR(s.params[0].name, "x");
        ASSERT_EQ_INT(s.params[0].kind, a[i].kind);
        ASSERT_EQ_INT(s.params[0].size, a[i].size);
        if (a[i].kind == CM_K_INT)
            ASSERT_EQ_INT(s.params[0].is_signed, a[i].is_signed);
        ASSERT_EQ_INT(s.ret.kind, a[i].kind);
        ASSERT_EQ_STR(s.normalized, want);
    }
}

static void test_normalization(void)
{
    struct cm_signature a, b;

    /* Renaming parameters and respelling types change nothing. */
    ASSERT_EQ_INT(cm_signature_parse("int pack(out[*outlen] out, inout[8] outlen, in[n] src, "
                                     "size_t n, int level)",
                                     &a, NULL, 1, NULL, NULL),
                  0);
    ASSERT_EQ_INT(cm_signature_parse("  i32   pack ( out [ * len ]  dst , inout[8]len,in[ arg4 ] "
                                     "s,u64 size,i32)",
                                     &b, NULL, 1, NULL, NULL),
                  0);
    ASSERT_EQ_STR(a.normalized, b.normalized);
    ASSERT_EQ_STR(a.normalized, "i32 pack(out[*arg2], inout[8], in[arg4], u64, i32)");

    /* Only the parentheses the evaluation order needs. */
    ASSERT_EQ_INT(cm_signature_parse("i32 f(in[(a + 1) * 2] p, u64 a, u64 b, u64 c)", &a, NULL, 1,
                                     NULL, NULL),
                  0);
    ASSERT_EQ_STR(a.normalized, "i32 f(in[(arg2 + 1) * 2], u64, u64, u64)");
    ASSERT_EQ_INT(cm_signature_parse("i32 f(in[a - (b - c)] p, u64 a, u64 b, u64 c)", &a, NULL, 1,
                                     NULL, NULL),
                  0);
    ASSERT_EQ_STR(a.normalized, "i32 f(in[arg2 - (arg3 - arg4)], u64, u64, u64)");
    ASSERT_EQ_INT(cm_signature_parse("i32 f(in[(a - b) - c] p, u64 a, u64 b, u64 c)", &a, NULL, 1,
                                     NULL, NULL),
                  0);
    ASSERT_EQ_STR(a.normalized, "i32 f(in[arg2 - arg3 - arg4], u64, u64, u64)");
    ASSERT_EQ_INT(cm_signature_parse("i32 f(in[a + b * c / 2] p, u64 a, u64 b, u64 c)", &a, NULL, 1,
                                     NULL, NULL),
                  0);
    ASSERT_EQ_STR(a.normalized, "i32 f(in[arg2 + arg3 * arg4 / 2], u64, u64, u64)");
    ASSERT_EQ_INT(cm_signature_parse("i32 f(in[((a))] p, u64 a)", &a, NULL, 1, NULL, NULL), 0);
    ASSERT_EQ_STR(a.normalized, "i32 f(in[arg2], u64)");
    ASSERT_EQ_INT(cm_signature_parse("i64 f(out[retval + 1] p)", &a, NULL, 1, NULL, NULL), 0);
    ASSERT_EQ_STR(a.normalized, "i64 f(out[retval + 1])");
    ASSERT_TRUE(a.params[0].size_expr.uses_retval);

    /* (void) and () are both "no parameters". */
    ASSERT_EQ_INT(cm_signature_parse("i32 f(void)", &a, NULL, 1, NULL, NULL), 0);
    ASSERT_EQ_INT(a.nparams, 0);
    ASSERT_EQ_STR(a.normalized, "i32 f(void)");
    ASSERT_EQ_INT(cm_signature_parse("i32 f()", &b, NULL, 1, NULL, NULL), 0);
    ASSERT_EQ_STR(b.normalized, "i32 f(void)");

    /* Different types, different text. */
    ASSERT_EQ_INT(cm_signature_parse("i32 f(i32)", &a, NULL, 1, NULL, NULL), 0);
    ASSERT_EQ_INT(cm_signature_parse("i32 f(u32)", &b, NULL, 1, NULL, NULL), 0);
    ASSERT_TRUE(strcmp(a.normalized, b.normalized) != 0);
}

static void test_restore_order(void)
{
    struct cm_signature s;

    /* b and d are read by other outputs' sizes: restored first, in parameter order. */
    ASSERT_EQ_INT(cm_signature_parse("i32 f(out[*d] a, inout[4] b, out[*b + 1] c, inout[8] d, "
                                     "in[4] e, out[16] g)",
                                     &s, NULL, 1, NULL, NULL),
                  0);
    ASSERT_EQ_INT(s.nrestore, 5);
    ASSERT_EQ_INT(s.restore_order[0], 1);
    ASSERT_EQ_INT(s.restore_order[1], 3);
    ASSERT_EQ_INT(s.restore_order[2], 0);
    ASSERT_EQ_INT(s.restore_order[3], 2);
    ASSERT_EQ_INT(s.restore_order[4], 5);
    ASSERT_EQ_INT(s.params[2].size_expr.ops[0].width, 4);
    /* A deref of an in parameter does not make it an output. */
    ASSERT_EQ_INT(cm_signature_parse("i32 f(in[*n] buf, in[2] n)", &s, NULL, 1, NULL, NULL), 0);
    ASSERT_EQ_INT(s.nrestore, 0);
    ASSERT_EQ_INT(s.params[0].size_expr.ops[0].width, 2);
}

/* lzo1x_999_compress_level: an out[8] length the function writes and never reads sizes the
 * out buffer; it is restored first and is not keyed (normalized as out[8]). */
static void test_out_only_length(void)
{
    struct cm_signature s;

    ASSERT_EQ_INT(cm_signature_parse("i32 lzo(in[src_len] src, u64 src_len, out[*dst_len] dst, "
                                     "out[8] dst_len, ignore wrkmem)",
                                     &s, NULL, 1, NULL, NULL),
                  0);
    ASSERT_EQ_STR(s.normalized, "i32 lzo(in[arg2], u64, out[*arg4], out[8], ignore)");
    ASSERT_EQ_INT(s.nrestore, 2);
    ASSERT_EQ_INT(s.restore_order[0], 3);
    ASSERT_EQ_INT(s.restore_order[1], 2);
    ASSERT_EQ_INT(s.params[2].size_expr.ops[0].op, CM_OP_DEREF);
    ASSERT_EQ_INT(s.params[2].size_expr.ops[0].width, 8);
    ASSERT_EQ_INT(s.params[3].kind, CM_K_OUT);
    /* an input size is evaluated before the call: it may not read an out[] length */
    ASSERT_EQ_INT(cm_signature_parse("i32 f(in[*len] buf, out[8] len)", &s, NULL, 1, NULL, NULL),
                  -1);
    ASSERT_EQ_INT(cm_signature_parse("i32 f(inout[*len] buf, out[4] len)", &s, NULL, 1, NULL,
                                     NULL),
                  -1);
}

/* psABI 3.2.3: __int128 in two INTEGER registers or a 16-byte aligned stack pair (the register
 * left over stays free), double _Complex in two SSE registers or two slots, float _Complex in
 * one SSE register. */
static void test_wide_types(void)
{
    struct cm_signature s;

    ASSERT_EQ_INT(cm_signature_parse("i128 f(i64 a, i64 b, i64 c, i64 d, i64 e, u128 x, i64 f, "
                                     "i64 g, __int128 y, c64 z, c32 w)",
                                     &s, NULL, 1, NULL, NULL),
                  0);
    ASSERT_EQ_STR(s.normalized, "i128 f(i64, i64, i64, i64, i64, u128, i64, i64, i128, c64, c32)");
    ASSERT_EQ_INT(s.ret.kind, CM_K_INT128);
    ASSERT_TRUE(s.ret.is_signed);
    assert_param(&s.params[4], CM_K_INT, 8, CM_ABI_INT, 4, 0);
    assert_param(&s.params[5], CM_K_INT128, 16, CM_ABI_INT, -1, 0);
    ASSERT_TRUE(!s.params[5].is_signed);
    assert_param(&s.params[6], CM_K_INT, 8, CM_ABI_INT, 5, 0);
    assert_param(&s.params[7], CM_K_INT, 8, CM_ABI_INT, -1, 2);
    assert_param(&s.params[8], CM_K_INT128, 16, CM_ABI_INT, -1, 4); /* slot 3 is padding */
    assert_param(&s.params[9], CM_K_COMPLEX, 16, CM_ABI_SSE, 0, 0);
    assert_param(&s.params[10], CM_K_COMPLEX, 8, CM_ABI_SSE, 2, 0);
    ASSERT_EQ_INT(s.nstack, 6);
    /* two registers while they last */
    ASSERT_EQ_INT(cm_signature_parse("c64 f(__int128_t a, __uint128_t b, unsigned __int128 c, "
                                     "i64 d, f64 e, f64 f, f64 g, f64 h, f64 i, f64 j, f64 k, "
                                     "double _Complex z, float complex w)",
                                     &s, NULL, 1, NULL, NULL),
                  0);
    ASSERT_EQ_STR(s.normalized,
                  "c64 f(i128, u128, u128, i64, f64, f64, f64, f64, f64, f64, f64, c64, c32)");
    assert_param(&s.params[0], CM_K_INT128, 16, CM_ABI_INT, 0, 0);
    assert_param(&s.params[1], CM_K_INT128, 16, CM_ABI_INT, 2, 0);
    assert_param(&s.params[2], CM_K_INT128, 16, CM_ABI_INT, 4, 0);
    assert_param(&s.params[3], CM_K_INT, 8, CM_ABI_INT, -1, 0);
    assert_param(&s.params[10], CM_K_FLOAT, 8, CM_ABI_SSE, 6, 0);
    assert_param(&s.params[11], CM_K_COMPLEX, 16, CM_ABI_SSE, -1, 1); /* no 16-byte alignment */
    assert_param(&s.params[12], CM_K_COMPLEX, 8, CM_ABI_SSE, 7, 0);
    ASSERT_EQ_INT(s.nstack, 3);
    ASSERT_EQ_INT(s.ret.kind, CM_K_COMPLEX);
    ASSERT_EQ_INT(s.ret.size, 16);
    /* spellings in either word order */
    ASSERT_EQ_INT(cm_signature_parse("_Complex float f(complex double a, signed __int128 b)", &s,
                                     NULL, 1, NULL, NULL),
                  0);
    ASSERT_EQ_STR(s.normalized, "c32 f(c64, i128)");
    /* an i128 is not a size */
    ASSERT_EQ_INT(cm_signature_parse("i32 f(in[n] b, i128 n)", &s, NULL, 1, NULL, NULL), -1);
}

static void test_signature_api(void)
{
    struct cm_signature s;
    struct msgs m;

    memset(&m, 0, sizeof(m));
    ASSERT_EQ_INT(cm_signature_parse("f64 f(dobule)", &s, "a.conf:7", 13, collect, &m), -1);
    ASSERT_EQ_INT(m.n, 1);
    ASSERT_EQ_STR(m.text[0], "a.conf:7:19: error: unknown type 'dobule' (did you mean 'double'?)");

    memset(&m, 0, sizeof(m));
    ASSERT_EQ_INT(cm_signature_parse("i32 printf(str, ...)", &s, NULL, 1, collect, &m), 1);
    ASSERT_EQ_INT(m.n, 1);
    ASSERT_EQ_STR(m.text[0], "<signature>:1:1: warning: function 'printf' skipped: variadic "
                             "functions cannot be memoized");
    ASSERT_EQ_INT(m.sev[0], CM_DIAG_WARNING);

    ASSERT_EQ_INT(cm_signature_parse(NULL, &s, NULL, 1, NULL, NULL), -1);
    ASSERT_EQ_INT(cm_signature_parse("", &s, NULL, 1, NULL, NULL), -1);
}

/* ---- size expressions at run time --------------------------------------------------------- */

static const struct cm_expr *expr_of(struct cm_signature *s, const char *text, int param)
{
    struct msgs m;

    memset(&m, 0, sizeof(m));
    if (cm_signature_parse(text, s, NULL, 1, collect, &m) != 0) {
        ASSERT_EQ_STR(m.text[0], "(no message expected)");
        return NULL;
    }
    return &s->params[param].size_expr;
}

static void test_expr_eval(void)
{
    struct cm_signature s;
    const struct cm_expr *e;
    uint64_t args[CM_MAX_PARAMS] = {0}, out = 0;
    uint64_t len8 = 123;
    uint32_t len4 = 77;
    uint16_t len2 = 0xfffe;
    uint8_t len1 = 200;
    const uint64_t cap = 1ULL << 40;

    /* pack: out[*outlen] reads 8 bytes through parameter 2. */
    e = expr_of(&s, "i32 pack(out[*outlen] out, inout[8] outlen, in[n] src, u64 n, i32 level)", 0);
    REQUIRE(e != NULL);
    args[1] = (uintptr_t)&len8;
    ASSERT_EQ_INT(cm_expr_eval(e, args, 0, cap, &out), 0);
    ASSERT_EQ_UINT(out, 123);
    args[1] = 0;
    ASSERT_EQ_INT(cm_expr_eval(e, args, 0, cap, &out), -1); /* NULL deref */
    len8 = 1ULL << 63;
    args[1] = (uintptr_t)&len8;
    ASSERT_EQ_INT(cm_expr_eval(e, args, 0, cap, &out), -1); /* beyond int64 */

    /* Narrow derefs read exactly their width, unsigned. */
    e = expr_of(&s, "i32 f(out[*a + *b + *c] o, in[4] a, inout[2] b, in[1] c)", 0);
    REQUIRE(e != NULL);
    args[1] = (uintptr_t)&len4;
    args[2] = (uintptr_t)&len2;
    args[3] = (uintptr_t)&len1;
    ASSERT_EQ_INT(cm_expr_eval(e, args, 0, cap, &out), 0);
    ASSERT_EQ_UINT(out, 77 + 0xfffe + 200);

    /* retval */
    e = expr_of(&s, "i64 f(out[retval] o)", 0);
    REQUIRE(e != NULL);
    ASSERT_EQ_INT(cm_expr_eval(e, args, 42, cap, &out), 0);
    ASSERT_EQ_UINT(out, 42);
    ASSERT_EQ_INT(cm_expr_eval(e, args, -1, cap, &out), -1); /* negative */

    /* Precedence and parentheses. */
    e = expr_of(&s, "i32 f(in[n + m * 2] p, u64 n, u64 m)", 0);
    REQUIRE(e != NULL);
    args[1] = 1;
    args[2] = 3;
    ASSERT_EQ_INT(cm_expr_eval(e, args, 0, cap, &out), 0);
    ASSERT_EQ_UINT(out, 7);
    e = expr_of(&s, "i32 f(in[(n + m) * 2] p, u64 n, u64 m)", 0);
    REQUIRE(e != NULL);
    ASSERT_EQ_INT(cm_expr_eval(e, args, 0, cap, &out), 0);
    ASSERT_EQ_UINT(out, 8);
    e = expr_of(&s, "i32 f(in[n - m - 1] p, u64 n, u64 m)", 0);
    REQUIRE(e != NULL);
    args[1] = 10;
    ASSERT_EQ_INT(cm_expr_eval(e, args, 0, cap, &out), 0);
    ASSERT_EQ_UINT(out, 6);
    args[1] = 3;
    ASSERT_EQ_INT(cm_expr_eval(e, args, 0, cap, &out), -1); /* 3 - 3 - 1 < 0 */

    /* Division: truncating, and by zero. */
    e = expr_of(&s, "i32 f(in[n / m] p, u64 n, u64 m)", 0);
    REQUIRE(e != NULL);
    args[1] = 7;
    args[2] = 2;
    ASSERT_EQ_INT(cm_expr_eval(e, args, 0, cap, &out), 0);
    ASSERT_EQ_UINT(out, 3);
    args[2] = 0;
    ASSERT_EQ_INT(cm_expr_eval(e, args, 0, cap, &out), -1);

    /* Overflow of * and +. */
    e = expr_of(&s, "i32 f(in[n * m] p, u64 n, u64 m)", 0);
    REQUIRE(e != NULL);
    args[1] = 1ULL << 32;
    args[2] = 1ULL << 31;
    ASSERT_EQ_INT(cm_expr_eval(e, args, 0, UINT64_MAX, &out), -1);
    args[2] = 1ULL << 30;
    ASSERT_EQ_INT(cm_expr_eval(e, args, 0, UINT64_MAX, &out), 0);
    ASSERT_EQ_UINT(out, 1ULL << 62);
    e = expr_of(&s, "i32 f(in[n + m] p, u64 n, u64 m)", 0);
    REQUIRE(e != NULL);
    args[1] = (uint64_t)INT64_MAX;
    args[2] = 1;
    ASSERT_EQ_INT(cm_expr_eval(e, args, 0, UINT64_MAX, &out), -1);

    /* A signed parameter holding a negative value; an unsigned one beyond int64. */
    e = expr_of(&s, "i32 f(in[n] p, i32 n)", 0);
    REQUIRE(e != NULL);
    args[1] = (uint64_t)(int64_t)-5;
    ASSERT_EQ_INT(cm_expr_eval(e, args, 0, cap, &out), -1);
    args[1] = UINT64_MAX - 1;
    ASSERT_EQ_INT(cm_expr_eval(e, args, 0, UINT64_MAX, &out), -1);

    /* The cap is inclusive. */
    args[1] = 100;
    ASSERT_EQ_INT(cm_expr_eval(e, args, 0, 100, &out), 0);
    ASSERT_EQ_UINT(out, 100);
    ASSERT_EQ_INT(cm_expr_eval(e, args, 0, 99, &out), -1);
    args[1] = 0;
    ASSERT_EQ_INT(cm_expr_eval(e, args, 0, 99, &out), 0);
    ASSERT_EQ_UINT(out, 0);
}

static void test_expr_eval_malformed(void)
{
    struct cm_expr e;
    uint64_t out = 0, args[CM_MAX_PARAMS] = {0};

    memset(&e, 0, sizeof(e));
    ASSERT_EQ_INT(cm_expr_eval(&e, args, 0, 100, &out), -1); /* no expression */
    ASSERT_EQ_INT(cm_expr_eval(NULL, args, 0, 100, &out), -1);
    e.n = 2;
    e.ops[0].op = CM_OP_CONST;
    e.ops[0].value = 1;
    e.ops[1].op = CM_OP_ADD; /* one operand short */
    ASSERT_EQ_INT(cm_expr_eval(&e, args, 0, 100, &out), -1);
    e.n = 2;
    e.ops[1].op = CM_OP_CONST; /* two values left */
    ASSERT_EQ_INT(cm_expr_eval(&e, args, 0, 100, &out), -1);
    e.n = 1;
    e.ops[0].op = CM_OP_PARAM;
    e.ops[0].arg = 0;
    ASSERT_EQ_INT(cm_expr_eval(&e, NULL, 0, 100, &out), -1); /* no args */
    e.ops[0].op = 99;
    ASSERT_EQ_INT(cm_expr_eval(&e, args, 0, 100, &out), -1);
    e.ops[0].op = CM_OP_CONST;
    e.ops[0].value = INT64_MIN;
    ASSERT_EQ_INT(cm_expr_eval(&e, args, 0, UINT64_MAX, &out), -1);
}

int main(void)
{
    RUN_TEST(test_lgamma);
    RUN_TEST(test_pack);
    RUN_TEST(test_13_params);
    RUN_TEST(test_14_params);
    RUN_TEST(test_both_classes_spill);
    RUN_TEST(test_g_f32);
    RUN_TEST(test_crypt_family);
    RUN_TEST(test_evp_digest);
    RUN_TEST(test_type_aliases);
    RUN_TEST(test_normalization);
    RUN_TEST(test_restore_order);
    RUN_TEST(test_out_only_length);
    RUN_TEST(test_wide_types);
    RUN_TEST(test_signature_api);
    RUN_TEST(test_expr_eval);
    RUN_TEST(test_expr_eval_malformed);
    return cm_test_summary();
}
