/*
 * test_config.c - unit tests of the config file layer's messages (config/ini.c, config.c,
 * keyvals.c, diag.c): a data-driven table of broken configs, each with the exact list of
 * messages it must produce, the spec's examples, NUL bytes and many errors in one file.
 *
 * What it does not do: good configs field by field, loading and lookup, the examples
 * (test_config_keys.c); signatures in depth (test_signature.c); value grammars
 * (test_values.c). Each test runs in its own child process (cm_test.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "cm_config.h"
#include "cm_test.h"
#include "config_util.h"

/* ---- broken configs: text -> exact messages ----------------------------------------------- */

struct bad_case {
    const char *name;
    const char *text;
    const char *msgs[8]; /* "t.conf:L:C: error|warning: ..." in order; NULL-terminated */
    int nfunctions;      /* functions that must still be usable */
};

/* `nfunctions` is left out (zero) in most rows. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct bad_case bad_cases[] = {
    /* INI syntax */
    {"section_without_bracket",
     "[cache\nmode = off\n",
     {"t.conf:1:1: error: missing ']' in section header",
      "t.conf:2:1: error: key 'mode' outside of a section (put it under [cache] or [function "
      "NAME])"}},
    {"line_without_equals",
     "[cache]\njunk line\n",
     {"t.conf:2:1: error: syntax error: expected 'KEY = VALUE', '[SECTION]' or a comment"}},
    {"missing_key_name", "[cache]\n = off\n", {"t.conf:2:2: error: missing key name before '='"}},
    {"text_after_section",
     "[cache] mode = off\n",
     {"t.conf:1:9: error: unexpected text after ']'"}},
    {"key_outside_section",
     "mode = off\n[cache]\n",
     {"t.conf:1:1: error: key 'mode' outside of a section (put it under [cache] or [function "
      "NAME])"}},
    /* sections */
    {"unknown_section_typo",
     "[cahce]\nmode = off\n",
     {"t.conf:1:2: error: unknown section 'cahce' (did you mean 'cache'?)"}},
    {"unknown_section",
     "[global]\n",
     {"t.conf:1:2: error: unknown section 'global' (expected [cache] or [function NAME])"}},
    {"function_typo",
     "[funtion lgamma]\n",
     {"t.conf:1:2: error: unknown section 'funtion' (did you mean 'function'?)"}},
    {"empty_section",
     "[ ]\n",
     {"t.conf:1:1: error: empty section name (expected [cache] or [function NAME])"}},
    {"cache_with_name",
     "[cache main]\n",
     {"t.conf:1:8: error: [cache] takes no name, found 'main'"}},
    {"function_without_name",
     "[function]\n",
     {"t.conf:1:1: error: missing function name in section header (expected [function NAME])"}},
    {"function_bad_name",
     "[function 9lives]\n",
     {"t.conf:1:11: error: invalid function name '9lives' (expected a C identifier)"}},
    {"duplicate_cache",
     "[cache]\nmode = off\n[cache]\nmode = readonly\n",
     {"t.conf:3:1: error: duplicate section [cache] (first at line 1)"}},
    {"duplicate_function",
     "[function f]\nsignature = f64 f(f64)\n[function f]\nsignature = f64 f(f64)\n",
     {"t.conf:3:1: error: duplicate section [function f] (first at line 1)"},
     1},
    /* keys */
    {"unknown_key_cache",
     "[cache]\nmemory = 1G\n",
     {"t.conf:2:1: error: unknown key 'memory' in [cache]"}},
    {"function_key_in_cache",
     "[cache]\nsignature = f64 f(f64)\n",
     {"t.conf:2:1: error: unknown key 'signature' in [cache] (it belongs in a [function NAME] "
      "section)"}},
    {"cache_key_in_function",
     "[function f]\nmemory_size = 1M\nsignature = f64 f(f64)\n",
     {"t.conf:2:1: error: unknown key 'memory_size' in [function f] (it belongs in [cache])"}},
    {"duplicate_key",
     "[cache]\nmode = off\nmode = readonly\n",
     {"t.conf:3:1: error: duplicate key 'mode' in [cache] (first at line 2)"}},
    {"missing_signature",
     "[function f]\nmode = off\n",
     {"t.conf:1:1: error: missing 'signature' in [function f]"}},
    {"empty_signature",
     "[function f]\nsignature =\n",
     {"t.conf:2:12: error: empty signature (expected RET NAME(PARAM, ...))"}},
    /* [cache] values */
    {"cache_values",
     "[cache]\nmode = fast\nnamespace = a/b\nmemory_size = 12Q\nstrict = maybe\n",
     {"t.conf:2:8: error: invalid mode 'fast' (expected readwrite, readonly, writeonly, off or "
      "profile)",
      "t.conf:3:14: error: invalid namespace 'a/b' (1 to 64 characters from A-Z a-z 0-9 . _ -)",
      "t.conf:4:15: error: invalid size '12Q' for 'memory_size' (expected a number with an "
      "optional K, M, G or T suffix)",
      "t.conf:5:10: error: invalid boolean 'maybe' for 'strict' (expected yes or no)"}},
    {"namespace_too_long",
     "[cache]\nnamespace = "
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
     {"t.conf:2:77: error: invalid namespace "
      "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' (1 to 64 characters from "
      "A-Z a-z 0-9 . _ -)"}},
    {"empty_namespace",
     "[cache]\nnamespace =\n",
     {"t.conf:2:12: error: invalid namespace '' (1 to 64 characters from A-Z a-z 0-9 . _ -)"}},
    {"memory_size_range",
     "[cache]\nmemory_size = 1K\n",
     {"t.conf:2:15: error: memory_size '1K' out of range (4K to 1T)"}},
    {"mode_typo",
     "[cache]\nmode = readwrtie\n",
     {"t.conf:2:8: error: invalid mode 'readwrtie' (did you mean 'readwrite'?)"}},
    /* [cache] shared tier */
    {"tiers_typo",
     "[cache]\ntiers = memory shraed\n",
     {"t.conf:2:16: error: unknown tier 'shraed' (did you mean 'shared'?)"}},
    {"tiers_unknown",
     "[cache]\ntiers = memory, disk\n",
     {"t.conf:2:17: error: unknown tier 'disk' (expected memory, shared or remote)"}},
    {"tiers_remote_without_url",
     "[cache]\ntiers = memory, remote\n",
     {"t.conf:2:9: error: 'tiers' names remote, but [cache] has no 'remote = URL'"}},
    {"tiers_duplicate",
     "[cache]\ntiers = shared memory Shared\n",
     {"t.conf:2:23: error: duplicate tier 'shared' in 'tiers'"}},
    {"tiers_empty",
     "[cache]\ntiers =\n",
     {"t.conf:2:8: error: empty 'tiers' (expected memory, "
      "shared or remote)"}},
    /* [cache] remote tier */
    {"remote_scheme",
     "[cache]\nremote = ftp://host/x\n",
     {"t.conf:2:10: error: invalid remote 'ftp://host/x' (expected http://HOST[:PORT][/PREFIX], "
      "https://..., redis://HOST[:PORT][/DB], rediss://... or redis+cluster://HOST:PORT,...)"}},
    {"remote_redis_no_host",
     "[cache]\nremote = redis://user:pw@/0\n",
     {"t.conf:2:26: error: remote 'redis://user:pw@/0' has no host"}},
    {"remote_expire_range",
     "[cache]\nremote_expire = 0\n",
     {"t.conf:2:17: error: remote_expire '0' out of range (1s to 3650d)"}},
    {"remote_no_host",
     "[cache]\nremote = http://:7878\n",
     {"t.conf:2:17: error: remote 'http://:7878' has no host"}},
    {"remote_userinfo",
     "[cache]\nremote = http://u@h\n",
     {"t.conf:2:18: error: invalid character in the host of remote 'http://u@h'"}},
    {"remote_query",
     "[cache]\nremote = https://h:1/p?x=1\n",
     {"t.conf:2:23: error: invalid character in remote 'https://h:1/p?x=1' (no spaces, query or "
      "fragment)"}},
    {"remote_timeout_range",
     "[cache]\nremote_timeout = 2m\n",
     {"t.conf:2:18: error: remote_timeout '2m' out of range (1ms to 60s)"}},
    {"remote_timeout_bad",
     "[cache]\nremote_timeout = soon\n",
     {"t.conf:2:18: error: invalid time 'soon' for 'remote_timeout' (expected a number with an "
      "optional us, ms, s, m, h or d suffix)"}},
    {"remote_mode_typo",
     "[cache]\nremote_mode = readonyl\n",
     {"t.conf:2:15: error: invalid remote_mode 'readonyl' (did you mean 'readonly'?)"}},
    {"remote_queue_zero",
     "[cache]\nremote_queue = 0\n",
     {"t.conf:2:16: error: remote_queue '0' out of range (1 to 1M)"}},
    {"token_file_empty",
     "[cache]\ntoken_file =\n",
     {"t.conf:2:13: error: empty 'token_file' (expected a file path)"}},
    {"tiers_empty_entry",
     "[cache]\ntiers = memory,,shared\n",
     {"t.conf:2:16: error: empty entry in 'tiers' (expected memory, shared or remote)"}},
    {"tiers_leading_comma",
     "[cache]\ntiers = , memory\n",
     {"t.conf:2:9: error: empty entry in 'tiers' (expected memory, shared or remote)"}},
    {"tiers_trailing_comma",
     "[cache]\ntiers = memory ,\n",
     {"t.conf:2:16: error: empty entry in 'tiers' (expected memory, shared or remote)"}},
    {"shared_size_bad",
     "[cache]\nshared_size = lots\n",
     {"t.conf:2:15: error: invalid size 'lots' for 'shared_size' (expected a number with an "
      "optional K, M, G or T suffix)"}},
    {"shared_size_range",
     "[cache]\nshared_size = 512K\nshared_max_entry = 1K\n",
     {"t.conf:2:15: error: shared_size '512K' out of range (1M to 1T)"}},
    {"shared_size_too_big",
     "[cache]\nshared_size = 2T\n",
     {"t.conf:2:15: error: shared_size '2T' out of range (1M to 1T)"}},
    {"shared_max_entry_zero",
     "[cache]\nshared_max_entry = 0\n",
     {"t.conf:2:20: error: shared_max_entry '0' out of range (1 to 1T)"}},
    {"shared_max_entry_over_default_size",
     "[cache]\nshared_max_entry = 512M\n",
     {"t.conf:2:20: error: shared_max_entry '512M' is larger than shared_size (256M)"}},
    {"shared_max_entry_over_size_given_later",
     "[cache]\nshared_max_entry = 3M\nshared_size = 2M\n",
     {"t.conf:2:20: error: shared_max_entry '3M' is larger than shared_size (2M)"}},
    {"shared_path_relative",
     "[cache]\nshared_path = cache/cloudm-%u\n",
     {"t.conf:2:15: error: invalid shared_path 'cache/cloudm-%u' (expected an absolute path; "
      "%u is the uid)"}},
    {"shared_path_empty",
     "[cache]\nshared_path =\n",
     {"t.conf:2:14: error: invalid shared_path '' (expected an absolute path; %u is the uid)"}},
    {"shared_key_typo",
     "[cache]\nshared_sise = 1G\n",
     {"t.conf:2:1: error: unknown key 'shared_sise' in [cache] (did you mean 'shared_size'?)"}},
    {"shared_key_in_function",
     "[function f]\nsignature = f64 f(f64)\nshared_path = /tmp/x\n",
     {"t.conf:3:1: error: unknown key 'shared_path' in [function f] (it belongs in [cache])"}},
    {"singleflight_typo",
     "[function f]\nsignature = f64 f(f64)\nsingleflight = atuo\n",
     {"t.conf:3:16: error: invalid singleflight 'atuo' (did you mean 'auto'?)"}},
    {"singleflight_bad",
     "[function f]\nsignature = f64 f(f64)\nsingleflight = sometimes\n",
     {"t.conf:3:16: error: invalid singleflight 'sometimes' (expected yes, no or auto)"}},
    {"hook_typo",
     "[function f]\nsignature = f64 f(f64)\nhook = inlin\n",
     {"t.conf:3:8: error: invalid hook 'inlin' (did you mean 'inline'?)"}},
    {"hook_bad",
     "[function f]\nsignature = f64 f(f64)\nhook = plt\n",
     {"t.conf:3:8: error: invalid hook 'plt' (expected auto, got or inline)"}},
    {"identity_typo",
     "[function f]\nsignature = f64 f(f64)\nidentity = objcet\n",
     {"t.conf:3:12: error: invalid identity 'objcet' (did you mean 'object'?)"}},
    {"identity_in_cache",
     "[cache]\nidentity = code\n",
     {"t.conf:2:1: error: unknown key 'identity' in [cache] (it belongs in a [function "
      "NAME] section)"}},
    {"singleflight_in_cache",
     "[cache]\nsingleflight = yes\n",
     {"t.conf:2:1: error: unknown key 'singleflight' in [cache] (it belongs in a [function "
      "NAME] section)"}},
    {"singleflight_key_typo",
     "[function f]\nsignature = f64 f(f64)\nsingle_flight = yes\n",
     {"t.conf:3:1: error: unknown key 'single_flight' in [function f] (did you mean "
      "'singleflight'?)"}},
    /* [function] values */
    {"function_values",
     "[function f]\nsignature = f64 f(f64)\nmode = redonly\nerrno = perhaps\n"
     "min_time = 5 parsecs\nreads = a:4, b\nwrites = x:0\n",
     {"t.conf:3:8: error: invalid mode 'redonly' (did you mean 'readonly'?)",
      "t.conf:4:9: error: invalid boolean 'perhaps' for 'errno' (expected yes or no)",
      "t.conf:5:12: error: invalid time '5 parsecs' for 'min_time' (expected a number with an "
      "optional us, ms, s, m, h or d suffix)",
      "t.conf:6:14: error: expected NAME:SIZE in 'reads', found 'b'",
      "t.conf:7:12: error: invalid size '0' for 'x' in 'writes' (1 to 1048576 bytes)"}},
    {"global_too_big",
     "[function f]\nsignature = f64 f(f64)\nwrites = big:2M\n",
     {"t.conf:3:14: error: invalid size '2M' for 'big' in 'writes' (1 to 1048576 bytes)"}},
    {"global_bad_name",
     "[function f]\nsignature = f64 f(f64)\nreads = a-b:4\n",
     {"t.conf:3:9: error: invalid variable name 'a-b' in 'reads' (expected a C identifier)"}},
    {"global_duplicate",
     "[function f]\nsignature = f64 f(f64)\nreads = a:4, a:8\n",
     {"t.conf:3:14: error: duplicate variable 'a' in 'reads'"}},
    {"global_empty_entry",
     "[function f]\nsignature = f64 f(f64)\nwrites = a:4,\n",
     {"t.conf:3:14: error: empty entry in 'writes' (expected NAME:SIZE, ...)"}},
    {"global_too_many",
     "[function f]\nsignature = f64 f(f64)\n"
     "reads = a:1,b:1,c:1,d:1,e:1,f:1,g:1,h:1,i:1\n",
     {"t.conf:3:41: error: too many variables in 'reads' (at most 8)"}},
    /* signatures: syntax */
    {"signature_names_other",
     "[function lgamma]\nsignature = f64 gamma(f64 x)\n",
     {"t.conf:2:17: error: signature names function 'gamma' but the section is [function "
      "lgamma]"}},
    {"unknown_return_type",
     "[function f]\nsignature = dobule f(f64)\n",
     {"t.conf:2:13: error: unknown type 'dobule' (did you mean 'double'?)"}},
    {"unknown_param_type",
     "[function f]\nsignature = f64 f(f64 x, flaot y)\n",
     {"t.conf:2:26: error: unknown type 'flaot' (did you mean 'float'?)"}},
    {"unknown_type_far",
     "[function f]\nsignature = f64 f(matrix m)\n",
     {"t.conf:2:19: error: unknown type 'matrix'"}},
    {"unterminated_params",
     "[function f]\nsignature = f64 f(f64 x\n",
     {"t.conf:2:24: error: expected ',' or ')', found the end of the signature"}},
    {"missing_function_name",
     "[function f]\nsignature = f64 (f64)\n",
     {"t.conf:2:17: error: expected the function name, found '('"}},
    {"trailing_text",
     "[function f]\nsignature = f64 f(f64) const\n",
     {"t.conf:2:24: error: expected the end of the signature, found 'const'"}},
    {"trailing_comma",
     "[function f]\nsignature = f64 f(f64,)\n",
     {"t.conf:2:23: error: expected a parameter type, found ')'"}},
    {"c_pointer",
     "[function f]\nsignature = i32 f(char *s)\n",
     {"t.conf:2:24: error: C pointer syntax '*' is not part of the signature language (write "
      "str, in[SIZE], out[SIZE], inout[SIZE], ptr or handle(FUNC))"}},
    {"struct_pointer",
     "[function f]\nsignature = i32 f(struct stat *st)\n",
     {"t.conf:2:31: error: C pointer syntax '*' is not part of the signature language (write "
      "str, in[SIZE], out[SIZE], inout[SIZE], ptr or handle(FUNC))"}},
    {"missing_bracket",
     "[function f]\nsignature = i32 f(in[n buf, u64 n)\n",
     {"t.conf:2:21: error: missing ']' after the size expression"}},
    {"buffer_without_size",
     "[function f]\nsignature = i32 f(in buf)\n",
     {"t.conf:2:22: error: expected '[' and a size, found 'buf'"}},
    {"void_param",
     "[function f]\nsignature = i32 f(void, i32)\n",
     {"t.conf:2:19: error: 'void' is not a parameter type (write '(void)' for no parameters)"}},
    {"mstr_param",
     "[function f]\nsignature = i32 f(mstr s)\n",
     {"t.conf:2:19: error: 'mstr' is only a return type (use 'str' for a string parameter)"}},
    {"ignore_return",
     "[function f]\nsignature = ignore f(i32)\n",
     {"t.conf:2:13: error: 'ignore' is not a return type"}},
    {"out_return",
     "[function f]\nsignature = out[4] f(i32)\n",
     {"t.conf:2:13: error: 'out' is not a return type (use 'ptr(NAME)' for a pointer into a "
      "parameter's buffer)"}},
    {"handle_return",
     "[function f]\nsignature = handle(g) f(i32)\n",
     {"t.conf:2:13: error: 'handle' is not a return type"}},
    {"handle_without_function",
     "[function f]\nsignature = i32 f(handle h)\n",
     {"t.conf:2:26: error: expected '(', found 'h'"}},
    {"handle_bad_suffix",
     "[function f]\nsignature = i32 f(handle(g:int) h)\n",
     {"t.conf:2:28: error: expected 'str' after ':', found 'int'"}},
    {"invalid_c_type",
     "[function f]\nsignature = i32 f(short long x)\n",
     {"t.conf:2:19: error: invalid type 'short long'"}},
    {"signed_unsigned",
     "[function f]\nsignature = i32 f(signed unsigned x)\n",
     {"t.conf:2:19: error: invalid type 'signed unsigned'"}},
    {"ellipsis_not_last",
     "[function f]\nsignature = i32 f(..., i32)\n",
     {"t.conf:2:19: error: '...' must be the last parameter"}},
    {"too_many_params",
     "[function f]\nsignature = void f(i8, i8, i8, i8, i8, i8, i8, i8, i8, i8, i8, i8, i8, i8, "
     "i8, i8, i8, i8, i8, i8, i8, i8, i8, i8, i8)\n",
     {"t.conf:2:116: error: too many parameters (at most 24)"}},
    /* signatures: names */
    {"duplicate_param",
     "[function f]\nsignature = i32 f(i32 a, i32 a)\n",
     {"t.conf:2:30: error: duplicate parameter name 'a'"}},
    {"reserved_retval",
     "[function f]\nsignature = i32 f(i32 retval)\n",
     {"t.conf:2:23: error: parameter name 'retval' is reserved"}},
    {"reserved_argn",
     "[function f]\nsignature = i32 f(i32 arg2, i32 b)\n",
     {"t.conf:2:23: error: parameter name 'arg2' is reserved (argN names parameter N)"}},
    /* size expressions */
    {"size_unknown_param",
     "[function f]\nsignature = i32 f(in[len] buf, u64 n)\n",
     {"t.conf:2:22: error: unknown parameter 'len' in size expression"}},
    {"size_not_integer",
     "[function f]\nsignature = i32 f(in[x] buf, f64 x)\n",
     {"t.conf:2:22: error: size expression uses 'x', which is not an integer parameter"}},
    {"size_str_param",
     "[function f]\nsignature = i32 f(in[s] buf, str s)\n",
     {"t.conf:2:22: error: size expression uses 's', which is not an integer parameter"}},
    {"size_argn_out_of_range",
     "[function f]\nsignature = i32 f(in[arg3] buf, u64)\n",
     {"t.conf:2:22: error: unknown parameter 'arg3' in size expression (did you mean 'arg2'?)"}},
    {"deref_not_input",
     "[function f]\nsignature = i32 f(out[*n] buf, u64 n)\n",
     {"t.conf:2:23: error: '*n' reads through 'n', which is not an in[...] or inout[...] "
      "parameter"}},
    {"deref_out_param",
     "[function f]\nsignature = i32 f(out[*len] buf, out[8] len)\n",
     {"t.conf:2:23: error: '*len' reads through 'len', which is not an in[...] or inout[...] "
      "parameter"}},
    {"deref_variable_size",
     "[function f]\nsignature = i32 f(out[*len] buf, inout[n] len, u64 n)\n",
     {"t.conf:2:23: error: '*len' needs 'len' to have a constant size of 1, 2, 4 or 8 bytes"}},
    {"deref_odd_size",
     "[function f]\nsignature = i32 f(out[*len] buf, inout[3] len)\n",
     {"t.conf:2:23: error: '*len' needs 'len' to have a constant size of 1, 2, 4 or 8 bytes"}},
    {"retval_in_input",
     "[function f]\nsignature = i32 f(in[retval] buf)\n",
     {"t.conf:2:22: error: 'retval' can only be used in out[...] sizes"}},
    {"retval_in_inout",
     "[function f]\nsignature = i32 f(inout[retval] buf)\n",
     {"t.conf:2:25: error: 'retval' can only be used in out[...] sizes"}},
    {"retval_float_return",
     "[function f]\nsignature = f64 f(out[retval] buf)\n",
     {"t.conf:2:23: error: 'retval' needs an integer return type"}},
    {"size_unclosed_paren",
     "[function f]\nsignature = i32 f(in[(n] b, u64 n)\n",
     {"t.conf:2:24: error: expected ')' in size expression, found its end"}},
    {"size_dangling_operator",
     "[function f]\nsignature = i32 f(in[n +] b, u64 n)\n",
     {"t.conf:2:25: error: expected a number, a parameter, '*NAME', 'retval' or '(' in size "
      "expression, found its end"}},
    {"size_unary_minus",
     "[function f]\nsignature = i32 f(in[-1] b)\n",
     {"t.conf:2:22: error: expected a number, a parameter, '*NAME', 'retval' or '(' in size "
      "expression, found '-'"}},
    {"size_empty",
     "[function f]\nsignature = i32 f(in[] b)\n",
     {"t.conf:2:22: error: empty size expression"}},
    {"size_hex",
     "[function f]\nsignature = i32 f(in[0x10] b)\n",
     {"t.conf:2:22: error: invalid number '0x10' in size expression (decimal digits only)"}},
    {"size_huge_literal",
     "[function f]\nsignature = i32 f(in[99999999999999999999] b)\n",
     {"t.conf:2:22: error: number '99999999999999999999' too large in size expression"}},
    {"size_two_operands",
     "[function f]\nsignature = i32 f(in[n n] b, u64 n)\n",
     {"t.conf:2:24: error: expected an operator or ']' in size expression, found 'n'"}},
    {"size_nested_too_deep",
     "[function f]\nsignature = i32 f(in[((((((((((((((((((1))))))))))))))))))] b)\n",
     {"t.conf:2:38: error: size expression nested too deeply (more than 16 parentheses)"}},
    {"size_typo_suggests",
     "[function f]\nsignature = i32 f(u64 count,\n    in[cuont] buf)\n",
     {"t.conf:3:8: error: unknown parameter 'cuont' in size expression (did you mean "
      "'count'?)"}},
    /* ptr(NAME) returns */
    {"retptr_unknown",
     "[function f]\nsignature = ptr(buf) f(str s)\n",
     {"t.conf:2:17: error: ptr(buf) names no parameter"}},
    {"retptr_not_buffer",
     "[function f]\nsignature = ptr(s) f(str s)\n",
     {"t.conf:2:17: error: ptr(s): 's' must be an in[...], out[...] or inout[...] parameter"}},
    {"bare_ptr_return",
     "[function f]\nsignature = ptr f(str s)\n",
     {"t.conf:2:17: error: expected '(', found 'f'"}},
    /* warnings: the function is skipped, everything else is used */
    {"variadic",
     "[function printf]\nsignature = i32 printf(str fmt, ...)\n"
     "[function lgamma]\nsignature = f64 lgamma(f64 x)\n",
     {"t.conf:2:13: warning: function 'printf' skipped: variadic functions cannot be memoized"},
     1},
    {"struct_by_value",
     "[function f]\nsignature = i32 f(struct timeval tv)\n",
     {"t.conf:2:13: warning: function 'f' skipped: structs and unions passed by value cannot be "
      "memoized"}},
    {"union_return",
     "[function f]\nsignature = union u f(i32)\n",
     {"t.conf:2:13: warning: function 'f' skipped: structs and unions passed by value cannot be "
      "memoized"}},
    {"long_double",
     "[function expl]\nsignature = long double expl(long double x)\n",
     {"t.conf:2:13: warning: function 'expl' skipped: 'long double' cannot be memoized"}},
    {"vector",
     "[function f]\nsignature = f64 f(__m256d v)\n",
     {"t.conf:2:13: warning: function 'f' skipped: vector types cannot be memoized ('__m256d')"}},
    {"complex",
     "[function cabs]\nsignature = f64 cabs(double _Complex z)\n",
     {"t.conf:2:13: warning: function 'cabs' skipped: _Complex types cannot be memoized"}},
    {"int128",
     "[function f]\nsignature = unsigned __int128 f(i32)\n",
     {"t.conf:2:13: warning: function 'f' skipped: 128-bit integers cannot be memoized"}},
    {"error_beats_warning",
     "[function f]\nsignature = i32 f(str, ..., i32)\n",
     {"t.conf:2:24: error: '...' must be the last parameter"}},
    /* positions survive continuation lines, CRLF, BOM and long lines */
    {"continuation_position",
     "[function f]\nsignature = i32 f(\n    i32 a,\n    dobule b)\n",
     {"t.conf:4:5: error: unknown type 'dobule' (did you mean 'double'?)"}},
    {"crlf_bom",
     "\xEF\xBB\xBF[cache]\r\nmode = fats\r\n",
     {"t.conf:2:8: error: invalid mode 'fats' (expected readwrite, readonly, writeonly, off or "
      "profile)"}},
    {"inline_comment",
     "[cache] ; the defaults\nmode = nope ; not a mode\n",
     {"t.conf:2:8: error: invalid mode 'nope' (expected readwrite, readonly, writeonly, off or "
      "profile)"}},
};
#pragma GCC diagnostic pop

static const char spec_example_text[] =
    "; the spec's own example\n[function lgamma]\nsigature = f64 lgamma(f64 x)\n";

static void check_msgs(const struct msgs *m, const char *const *want, int nwant)
{
    int i;

    ASSERT_EQ_INT(m->n, nwant);
    for (i = 0; i < nwant && i < m->n && i < MAX_MSGS; i++) {
        ASSERT_EQ_STR(m->text[i], want[i]);
        ASSERT_EQ_INT(m->sev[i], strstr(want[i], ": warning: ") ? CM_DIAG_WARNING : CM_DIAG_ERROR);
    }
    for (i = nwant; i < m->n && i < MAX_MSGS; i++)
        ASSERT_EQ_STR(m->text[i], "(no further message expected)");
}

static void run_bad_case(const void *arg)
{
    const struct bad_case *c = arg;
    struct cm_config cfg;
    struct msgs m;
    int nwant = 0, nerr = 0, nwarn = 0, i;

    while (nwant < 8 && c->msgs[nwant] != NULL)
        nwant++;
    ASSERT_EQ_INT(parse(c->text, &cfg, &m), 0);
    check_msgs(&m, c->msgs, nwant);
    for (i = 0; i < nwant; i++) {
        if (strstr(c->msgs[i], ": warning: "))
            nwarn++;
        else
            nerr++;
    }
    ASSERT_EQ_INT(cfg.nerrors, nerr);
    ASSERT_EQ_INT(cfg.nwarnings, nwarn);
    ASSERT_EQ_INT(cfg.nfunctions, c->nfunctions);
    cm_config_free(&cfg);
}

static void test_spec_examples(void)
{
    static const char printf_text[] = "[cache]\nmode = readwrite\n\n[function printf]\n"
                                      "signature = i32 printf(str fmt, ...)\n";
    struct cm_config cfg;
    struct msgs m;

    memset(&m, 0, sizeof(m));
    ASSERT_EQ_INT(
        cm_config_parse("x.conf", spec_example_text, strlen(spec_example_text), &cfg, collect, &m),
        0);
    ASSERT_EQ_INT(m.n, 1);
    ASSERT_EQ_STR(m.text[0],
                  "x.conf:3:1: error: unknown key 'sigature' in [function lgamma] (did you mean "
                  "'signature'?)");
    ASSERT_EQ_INT(cfg.nerrors, 1);
    cm_config_free(&cfg);

    memset(&m, 0, sizeof(m));
    ASSERT_EQ_INT(cm_config_parse("x.conf", printf_text, strlen(printf_text), &cfg, collect, &m),
                  0);
    ASSERT_EQ_INT(m.n, 1);
    ASSERT_EQ_STR(m.text[0], "x.conf:5:13: warning: function 'printf' skipped: variadic functions "
                             "cannot be memoized");
    ASSERT_EQ_INT(cfg.nerrors, 0);
    ASSERT_EQ_INT(cfg.nwarnings, 1);
    ASSERT_EQ_INT(cfg.nfunctions, 0);
    cm_config_free(&cfg);

    memset(&m, 0, sizeof(m));
    ASSERT_EQ_INT(
        parse("\n\n\n\n\n\n\n\n\n\n[function f]\nsignature = f64 f(f64 x, dobule y)\n", &cfg, &m),
        0);
    ASSERT_EQ_INT(m.n, 1);
    ASSERT_EQ_STR(m.text[0], "t.conf:12:26: error: unknown type 'dobule' (did you mean 'double'?)");
    cm_config_free(&cfg);
}

static void test_nul_byte(void)
{
    static const char text[] = "[cache]\nmode = o\0ff\nstrict = yes\n";
    struct cm_config cfg;
    struct msgs m;

    memset(&m, 0, sizeof(m));
    ASSERT_EQ_INT(cm_config_parse("t.conf", text, sizeof(text) - 1, &cfg, collect, &m), 0);
    ASSERT_EQ_INT(m.n, 1);
    ASSERT_EQ_STR(m.text[0], "t.conf:2:9: error: NUL byte in the config file");
    ASSERT_TRUE(cfg.strict); /* the following lines are still read */
    cm_config_free(&cfg);
}

static void test_many_errors_all_reported(void)
{
    struct cm_config cfg;
    struct msgs m;

    /* Every section and key is checked: errors do not stop the parse. */
    parse("[cache]\nmode = x\n[function f]\nsignature = f64 f(f64\n[function g]\n"
          "signature = f64 g(f64)\nerrno = 2\n[bogus]\nkey = 1\n[function h]\n"
          "signature = f64 h(f64)\n",
          &cfg, &m);
    ASSERT_EQ_INT(m.n, 4);
    ASSERT_EQ_INT(cfg.nerrors, 4);
    /* h is fine, g had a bad key: only clean functions are kept. */
    ASSERT_EQ_INT(cfg.nfunctions, 1);
    REQUIRE(cfg.nfunctions == 1);
    ASSERT_EQ_STR(cfg.functions[0].name, "h");
    cm_config_free(&cfg);
}

/* ---- good configs ------------------------------------------------------------------------- */

int main(void)
{
    size_t i;

    for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
        cm_test_run_arg(bad_cases[i].name, run_bad_case, &bad_cases[i]);
    RUN_TEST(test_spec_examples);
    RUN_TEST(test_nul_byte);
    RUN_TEST(test_many_errors_all_reported);
    return cm_test_summary();
}
