/*
 * test_config.c - unit tests of the config file layer (config/ini.c, config.c, diag.c): a
 * data-driven table of broken configs, each with the exact list of messages it must produce;
 * good configs whose every parsed field is checked (defaults, [cache], [function] keys,
 * continuation lines, long lines); file loading and lookup; the shipped example configs.
 *
 * What it does not do: signatures in depth (test_signature.c) or value grammars (test_values.c).
 * Each test runs in its own child process (cm_test.h).
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
     {"t.conf:1:11: error: invalid function name '9lives' (expected a C identifier, or a C++ "
      "function's demangled signature in quotes: [function \"ns::f(long, int)\"])"}},
    {"cxx_unqualified_name_expected",
     "[function \"primecount::pi(long, int)\"]\nsignature = i64 primecount(i64 x, i32 t)\n",
     {"t.conf:2:17: error: signature names function 'primecount' but the section is "
      "[function \"primecount::pi(long, int)\"] (a C++ function's signature uses its "
      "unqualified name, 'pi')"}},
    {"cxx_no_parameter_list",
     "[function \"primecount::pi\"]\nsignature = i64 pi(i64 x)\n",
     {"t.conf:1:11: error: invalid C++ function name \"primecount::pi\" (expected the demangled "
      "signature c++filt prints, e.g. [function \"ns::f(long, int)\"])"}},
    {"cxx_unterminated_quote",
     "[function \"ns::f(long)]\nsignature = i64 f(i64 x)\n",
     {"t.conf:1:11: error: missing '\"' at the end of the C++ function name"}},
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
     {"t.conf:2:23: error: '*n' reads through 'n', which is not an in[...], out[...] or "
      "inout[...] parameter"}},
    {"deref_out_param_in_input",
     "[function f]\nsignature = i32 f(in[*len] buf, out[8] len)\n",
     {"t.conf:2:22: error: '*len' reads through 'len', an out[...] parameter: only out[...] "
      "sizes may (they are evaluated after the call); declare 'len' inout[...] to use it "
      "here"}},
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
    {"complex_long_double",
     "[function cabsl]\nsignature = long double cabsl(long double _Complex z)\n",
     {"t.conf:2:13: warning: function 'cabsl' skipped: 'long double' cannot be memoized"}},
    {"complex_integer",
     "[function f]\nsignature = i32 f(int _Complex z)\n",
     {"t.conf:2:13: warning: function 'f' skipped: integer _Complex types cannot be memoized"}},
    {"complex_alone",
     "[function f]\nsignature = i32 f(_Complex z)\n",
     {"t.conf:2:19: error: invalid type '_Complex' (write 'float _Complex' or 'double "
      "_Complex', or c32 / c64)"}},
    {"float128",
     "[function f]\nsignature = __float128 f(i32)\n",
     {"t.conf:2:13: warning: function 'f' skipped: 128-bit floating point cannot be memoized"}},
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

static void test_defaults(void)
{
    struct cm_config cfg;

    good("", &cfg, "");
    ASSERT_EQ_INT(cfg.mode, CM_MODE_READWRITE);
    ASSERT_EQ_STR(cfg.ns, "default");
    ASSERT_EQ_UINT(cfg.memory_size, 64ULL << 20);
    ASSERT_EQ_STR(cfg.report, "");
    ASSERT_EQ_INT(cfg.strict, false);
    ASSERT_EQ_INT(cfg.nfunctions, 0);
    ASSERT_EQ_STR(cfg.path, "t.conf");
    ASSERT_EQ_UINT(cfg.tiers, CM_TIER_MEMORY | CM_TIER_SHARED);
    ASSERT_EQ_STR(cfg.shared_path, "/dev/shm/cloudm-%u");
    ASSERT_EQ_UINT(cfg.shared_size, 256ULL << 20);
    ASSERT_EQ_UINT(cfg.shared_max_entry, 16ULL << 20);
    cm_config_free(&cfg);

    good("; only comments\n# and blank lines\n\n[cache]\n", &cfg, "");
    ASSERT_EQ_INT(cfg.mode, CM_MODE_READWRITE);
    cm_config_free(&cfg);
}

static void test_cache_section(void)
{
    struct cm_config cfg;

    good("[cache]\nmode = profile\nnamespace = proj-1.x_Y\nmemory_size = 256M\n"
         "report = /tmp/r-%p.json\nstrict = yes\n",
         &cfg, "");
    ASSERT_EQ_INT(cfg.mode, CM_MODE_PROFILE);
    ASSERT_EQ_STR(cfg.ns, "proj-1.x_Y");
    ASSERT_EQ_UINT(cfg.memory_size, 256ULL << 20);
    ASSERT_EQ_STR(cfg.report, "/tmp/r-%p.json");
    ASSERT_TRUE(cfg.strict);
    cm_config_free(&cfg);

    good("[Cache]\nMODE = ReadOnly\nreport = stderr\nstrict = off\nmemory_size = 4K\n", &cfg, "");
    ASSERT_EQ_INT(cfg.mode, CM_MODE_READONLY);
    ASSERT_EQ_STR(cfg.report, "stderr");
    ASSERT_TRUE(!cfg.strict);
    ASSERT_EQ_UINT(cfg.memory_size, 4096);
    cm_config_free(&cfg);

    good("[cache]\nmode: writeonly\nmemory_size = 1T\n", &cfg, "");
    ASSERT_EQ_INT(cfg.mode, CM_MODE_WRITEONLY);
    ASSERT_EQ_UINT(cfg.memory_size, 1ULL << 40);
    cm_config_free(&cfg);
}

static void test_remote_keys(void)
{
    struct cm_config cfg;

    /* Defaults: no remote, and the remote settings at their documented values. */
    good("", &cfg, "");
    ASSERT_EQ_STR(cfg.remote, "");
    ASSERT_EQ_UINT(cfg.remote_timeout_ns, 250000000ULL);
    ASSERT_EQ_UINT(cfg.flush_timeout_ns, 10000000000ULL);
    ASSERT_EQ_UINT(cfg.remote_queue, 4096);
    ASSERT_EQ_UINT(cfg.remote_queue_bytes, 64ULL << 20);
    ASSERT_EQ_UINT(cfg.remote_max_value, 64ULL << 20);
    ASSERT_EQ_INT(cfg.remote_mode, CM_RMODE_READWRITE);
    ASSERT_EQ_UINT(cfg.remote_expire_ns, 30ULL * 86400 * 1000000000);
    cm_config_free(&cfg);

    /* A remote joins the default tiers; relative files are taken from the config's directory. */
    good("[cache]\nremote = http://keycache.lan:7878/team\ntoken_file = tok\n"
         "secret_file = /etc/cloudm/secret\nremote_timeout = 50ms\nflush_timeout = 0\n"
         "remote_mode = ReadOnly\nremote_queue = 10\nremote_queue_bytes = 1M\n"
         "remote_max_value = 1K\n",
         &cfg, "");
    ASSERT_EQ_UINT(cfg.tiers, CM_TIER_MEMORY | CM_TIER_SHARED | CM_TIER_REMOTE);
    ASSERT_EQ_STR(cfg.remote, "http://keycache.lan:7878/team");
    ASSERT_EQ_STR(cfg.token_file, "tok"); /* the test's config is "t.conf": no directory */
    ASSERT_EQ_STR(cfg.secret_file, "/etc/cloudm/secret");
    ASSERT_EQ_UINT(cfg.remote_timeout_ns, 50000000ULL);
    ASSERT_EQ_UINT(cfg.flush_timeout_ns, 0);
    ASSERT_EQ_INT(cfg.remote_mode, CM_RMODE_READONLY);
    ASSERT_EQ_UINT(cfg.remote_queue, 10);
    ASSERT_EQ_UINT(cfg.remote_queue_bytes, 1ULL << 20);
    ASSERT_EQ_UINT(cfg.remote_max_value, 1024);
    cm_config_free(&cfg);

    ASSERT_EQ_INT(cm_config_parse("/etc/cloudm/team.conf",
                                  "[cache]\nremote = https://h\ntoken_file = t/tok\n", 46, &cfg,
                                  NULL, NULL),
                  0);
    ASSERT_EQ_INT(cfg.nerrors, 0);
    ASSERT_EQ_STR(cfg.token_file, "/etc/cloudm/t/tok");
    cm_config_free(&cfg);

    good("[cache]\nremote = redis://u:p@10.0.0.1:6380/2\nremote_expire = 7d\n", &cfg, "");
    ASSERT_EQ_STR(cfg.remote, "redis://u:p@10.0.0.1:6380/2");
    ASSERT_EQ_UINT(cfg.remote_expire_ns, 7ULL * 86400 * 1000000000);
    cm_config_free(&cfg);
    good("[cache]\nremote = redis+cluster://127.0.0.1:7000,127.0.0.1:7001\n", &cfg, "");
    ASSERT_EQ_UINT(cfg.tiers, CM_TIER_MEMORY | CM_TIER_SHARED | CM_TIER_REMOTE);
    cm_config_free(&cfg);

    /* An explicit `tiers` without remote keeps the remote out. */
    good("[cache]\nremote = http://h\ntiers = memory\n", &cfg, "");
    ASSERT_EQ_UINT(cfg.tiers, CM_TIER_MEMORY);
    cm_config_free(&cfg);
}

static void test_shared_tier_keys(void)
{
    static const struct {
        const char *text;
        unsigned tiers;
    } tiers[] = {
        {"memory", CM_TIER_MEMORY},
        {"shared", CM_TIER_SHARED},
        {"memory shared", CM_TIER_MEMORY | CM_TIER_SHARED},
        {"shared memory", CM_TIER_MEMORY | CM_TIER_SHARED},
        {"shared,memory", CM_TIER_MEMORY | CM_TIER_SHARED},
        {"  Memory ,\tSHARED  ", CM_TIER_MEMORY | CM_TIER_SHARED},
    };
    struct cm_config cfg;
    char text[256];
    size_t i;

    for (i = 0; i < sizeof(tiers) / sizeof(tiers[0]); i++) {
        snprintf(text, sizeof(text), "[cache]\ntiers = %s\n", tiers[i].text);
        good(text, &cfg, "");
        ASSERT_EQ_UINT(cfg.tiers, tiers[i].tiers);
        cm_config_free(&cfg);
    }

    /* shared_max_entry defaults to 1/16 of shared_size, whichever order the keys come in. */
    good("[cache]\nremote = http://h:1\ntiers = remote, memory\n", &cfg, "");
    ASSERT_EQ_UINT(cfg.tiers, CM_TIER_MEMORY | CM_TIER_REMOTE);
    cm_config_free(&cfg);

    good("[cache]\nshared_size = 1G\nshared_path = /home/u/.cache/cloudm/seg-%u\n", &cfg, "");
    ASSERT_EQ_UINT(cfg.shared_size, 1ULL << 30);
    ASSERT_EQ_UINT(cfg.shared_max_entry, 64ULL << 20);
    ASSERT_EQ_STR(cfg.shared_path, "/home/u/.cache/cloudm/seg-%u");
    cm_config_free(&cfg);

    good("[cache]\nshared_max_entry = 1M\nshared_size = 1M\n", &cfg, "");
    ASSERT_EQ_UINT(cfg.shared_size, 1ULL << 20);
    ASSERT_EQ_UINT(cfg.shared_max_entry, 1ULL << 20);
    cm_config_free(&cfg);

    good("[cache]\nshared_size = 1T\nshared_max_entry = 4096\n", &cfg, "");
    ASSERT_EQ_UINT(cfg.shared_size, 1ULL << 40);
    ASSERT_EQ_UINT(cfg.shared_max_entry, 4096);
    cm_config_free(&cfg);

    /* A bad shared_size is one error, not a second one about shared_max_entry. */
    {
        struct msgs m;

        parse("[cache]\nshared_size = 0\nshared_max_entry = 300M\n", &cfg, &m);
        ASSERT_EQ_INT(cfg.nerrors, 1);
        ASSERT_EQ_STR(m.text[0], "t.conf:2:15: error: shared_size '0' out of range (1M to 1T)");
        cm_config_free(&cfg);
    }
}

static void test_singleflight(void)
{
    static const struct {
        const char *text;
        int sf;
    } rows[] = {
        {"yes", CM_SF_YES},   {"no", CM_SF_NO},  {"auto", CM_SF_AUTO},
        {"AUTO", CM_SF_AUTO}, {"on", CM_SF_YES}, {"false", CM_SF_NO},
    };
    struct cm_config cfg;
    const struct cm_function *f;
    char text[256];
    size_t i;

    f = good("[function f]\nsignature = f64 f(f64)\n", &cfg, "f");
    REQUIRE(f != NULL);
    ASSERT_EQ_INT(f->singleflight, CM_SF_AUTO);
    cm_config_free(&cfg);
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        snprintf(text, sizeof(text), "[function f]\nsignature = f64 f(f64)\nsingleflight = %s\n",
                 rows[i].text);
        f = good(text, &cfg, "f");
        REQUIRE(f != NULL);
        ASSERT_EQ_INT(f->singleflight, rows[i].sf);
        cm_config_free(&cfg);
    }
}

static void test_hook_identity(void)
{
    static const struct {
        const char *key, *text;
        int want;
    } rows[] = {
        {"hook", "auto", CM_HOOK_AUTO},          {"hook", "got", CM_HOOK_GOT},
        {"hook", "INLINE", CM_HOOK_INLINE},      {"identity", "code", CM_IDENT_CODE},
        {"identity", "object", CM_IDENT_OBJECT}, {"identity", "name", CM_IDENT_NAME},
    };
    struct cm_config cfg;
    const struct cm_function *f;
    char text[256];
    size_t i;

    f = good("[function f]\nsignature = f64 f(f64)\n", &cfg, "f");
    REQUIRE(f != NULL);
    ASSERT_EQ_INT(f->hook, CM_HOOK_AUTO);
    ASSERT_EQ_INT(f->identity, CM_IDENT_CODE);
    cm_config_free(&cfg);
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        snprintf(text, sizeof(text), "[function f]\nsignature = f64 f(f64)\n%s = %s\n", rows[i].key,
                 rows[i].text);
        f = good(text, &cfg, "f");
        REQUIRE(f != NULL);
        ASSERT_EQ_INT(rows[i].key[0] == 'h' ? f->hook : f->identity, rows[i].want);
        cm_config_free(&cfg);
    }
}

static void test_function_keys(void)
{
    struct cm_config cfg;
    const struct cm_function *f;

    f = good("[cache]\nmode = off\n\n[function lgamma]\nsignature = f64 lgamma(f64 x)\n"
             "object = */libm.so*\nmode = readonly\nsalt = v2\nreads = a:4, b_2 : 1K\n"
             "writes = signgam:4\nerrno = yes\nmin_time = 250ms\n",
             &cfg, "lgamma");
    REQUIRE(f != NULL);
    ASSERT_EQ_INT(cfg.mode, CM_MODE_OFF);
    ASSERT_EQ_STR(f->object, "*/libm.so*");
    ASSERT_EQ_INT(f->mode, CM_MODE_READONLY);
    ASSERT_EQ_STR(f->salt, "v2");
    ASSERT_EQ_INT(f->nreads, 2);
    ASSERT_EQ_STR(f->reads[0].name, "a");
    ASSERT_EQ_UINT(f->reads[0].size, 4);
    ASSERT_EQ_STR(f->reads[1].name, "b_2");
    ASSERT_EQ_UINT(f->reads[1].size, 1024);
    ASSERT_EQ_INT(f->nwrites, 1);
    ASSERT_EQ_STR(f->writes[0].name, "signgam");
    ASSERT_EQ_UINT(f->writes[0].size, 4);
    ASSERT_TRUE(f->save_errno);
    ASSERT_EQ_UINT(f->min_time_ns, 250000000ULL);
    ASSERT_EQ_INT(f->line, 4);
    ASSERT_EQ_STR(f->sig.normalized, "f64 lgamma(f64)");
    cm_config_free(&cfg);

    /* Defaults of a function section. */
    f = good("[function sqrt]\nsignature = double sqrt(double)\n", &cfg, "sqrt");
    REQUIRE(f != NULL);
    ASSERT_EQ_STR(f->object, "");
    ASSERT_EQ_INT(f->mode, CM_MODE_UNSET);
    ASSERT_EQ_STR(f->salt, "");
    ASSERT_EQ_INT(f->nreads, 0);
    ASSERT_EQ_INT(f->nwrites, 0);
    ASSERT_TRUE(!f->save_errno);
    ASSERT_EQ_UINT(f->min_time_ns, 0);
    ASSERT_EQ_STR(f->sig.normalized, "f64 sqrt(f64)");
    cm_config_free(&cfg);

    /* Functions keep file order; max globals. */
    good("[function a]\nsignature = void a(void)\n[function b]\nsignature = void b()\n"
         "writes = v1:1,v2:2,v3:3,v4:4,v5:5,v6:6,v7:7,v8:1M\n",
         &cfg, "");
    REQUIRE(cfg.nfunctions == 2);
    ASSERT_EQ_STR(cfg.functions[0].name, "a");
    ASSERT_EQ_STR(cfg.functions[1].name, "b");
    ASSERT_EQ_INT(cfg.functions[1].nwrites, 8);
    ASSERT_EQ_UINT(cfg.functions[1].writes[7].size, 1048576);
    ASSERT_EQ_STR(cfg.functions[1].sig.normalized, "void b(void)");
    cm_config_free(&cfg);
}

static void test_continuation_and_long_lines(void)
{
    char text[2048];
    struct cm_config cfg;
    const struct cm_function *f;
    int n;

    f = good("[function pack]\nsignature = i32 pack(out[*outlen] out,\n"
             "                     inout[8] outlen,   ; comments end a line\n"
             "                     in[n] src, u64 n, i32 level)\nmode = off\n",
             &cfg, "pack");
    REQUIRE(f != NULL);
    ASSERT_EQ_STR(f->sig.normalized, "i32 pack(out[*arg2], inout[8], in[arg4], u64, i32)");
    ASSERT_EQ_INT(f->mode, CM_MODE_OFF);
    cm_config_free(&cfg);

    /* Far beyond inih's 200-byte line buffer. */
    n = snprintf(text, sizeof(text), "[function %s]\nsignature = i32 %s(",
                 "a_function_with_a_rather_long_name_to_make_the_line_long_enough",
                 "a_function_with_a_rather_long_name_to_make_the_line_long_enough");
    for (int i = 0; i < 20; i++)
        n += snprintf(text + n, sizeof(text) - (size_t)n, "%su64 parameter_number_%02d",
                      i ? ", " : "", i);
    snprintf(text + n, sizeof(text) - (size_t)n, ")\nmode = readonly\n");
    f = good(text, &cfg, "a_function_with_a_rather_long_name_to_make_the_line_long_enough");
    REQUIRE(f != NULL);
    ASSERT_EQ_INT(f->sig.nparams, 20);
    ASSERT_EQ_STR(f->sig.params[19].name, "parameter_number_19");
    ASSERT_EQ_INT(f->sig.params[19].abi_stack, 13);
    ASSERT_EQ_INT(f->mode, CM_MODE_READONLY);
    cm_config_free(&cfg);
}

/* ---- warnings leave the rest usable ------------------------------------------------------- */

static void test_skipped_function(void)
{
    struct cm_config cfg;
    struct msgs m;

    parse("[function printf]\nsignature = i32 printf(str fmt, ...)\n[function lgamma]\n"
          "signature = f64 lgamma(f64)\n[cache]\nmode = readonly\n",
          &cfg, &m);
    ASSERT_EQ_INT(cfg.nerrors, 0);
    ASSERT_EQ_INT(cfg.nwarnings, 1);
    REQUIRE(cfg.nfunctions == 1);
    ASSERT_EQ_STR(cfg.functions[0].name, "lgamma");
    ASSERT_EQ_INT(cfg.mode, CM_MODE_READONLY);
    cm_config_free(&cfg);
}

/* C++ functions by their demangled signature: two overloads are two sections, the signature
 * uses the unqualified name, a mangled name stays an ordinary C identifier. */
static void test_cxx_sections(void)
{
    struct cm_config cfg;
    struct msgs m;

    parse("[function \"primecount::pi(long, int)\"]\nsignature = i64 pi(i64 x, ignore threads)\n"
          "[function \" primecount::pi(__int128, int) \"]\nsignature = i128 pi(i128 x, ignore)\n"
          "[function \"ns::Acc::add(long) const\"]\nsignature = i64 add(ptr this, i64 v)\n"
          "[function \"ns::pick<int>(int)\"]\nsignature = i32 pick(i32)\n"
          "[function _ZN10primecount2piEli]\nsignature = i64 _ZN10primecount2piEli(i64, i32)\n",
          &cfg, &m);
    ASSERT_EQ_INT(cfg.nerrors, 0);
    ASSERT_EQ_INT(cfg.nwarnings, 0);
    REQUIRE(cfg.nfunctions == 5);
    ASSERT_EQ_STR(cfg.functions[0].name, "primecount::pi(long, int)");
    ASSERT_TRUE(cfg.functions[0].cxx);
    ASSERT_EQ_STR(cfg.functions[0].short_name, "pi");
    ASSERT_EQ_STR(cfg.functions[1].name, "primecount::pi(__int128, int)");
    ASSERT_EQ_STR(cfg.functions[1].sig.normalized, "i128 pi(i128, ignore)");
    ASSERT_EQ_STR(cfg.functions[2].short_name, "add");
    ASSERT_EQ_STR(cfg.functions[3].short_name, "pick");
    ASSERT_TRUE(!cfg.functions[4].cxx);
    ASSERT_EQ_STR(cfg.functions[4].short_name, "_ZN10primecount2piEli");
    ASSERT_TRUE(cm_cxx_name_eq("ns::f(long,int)", " ns::f(long, int) "));
    ASSERT_TRUE(!cm_cxx_name_eq("ns::f(long, int)", "ns::f(long, long)"));
    cm_config_free(&cfg);
}

/* ---- files -------------------------------------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    REQUIRE(f != NULL);
    fputs(text, f);
    fclose(f);
}

static void test_load(void)
{
    char dir[] = "/tmp/cm_test_cfg_XXXXXX", path[256];
    struct cm_config cfg;
    struct msgs m;

    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/cloudm.conf", dir);
    write_file(path, "[function lgamma]\nsignature = f64 lgamma(dobule x)\n");
    memset(&m, 0, sizeof(m));
    ASSERT_EQ_INT(cm_config_load(path, &cfg, collect, &m), 0);
    ASSERT_EQ_STR(cfg.path, path);
    ASSERT_EQ_INT(m.n, 1);
    {
        char want[512];

        snprintf(want, sizeof(want),
                 "%s:2:24: error: unknown type 'dobule' (did you mean 'double'?)", path);
        ASSERT_EQ_STR(m.text[0], want);
    }
    cm_config_free(&cfg);

    ASSERT_EQ_INT(cm_config_load(dir, &cfg, NULL, NULL), -EISDIR);
    cm_config_free(&cfg);
    unlink(path);
    ASSERT_EQ_INT(cm_config_load(path, &cfg, NULL, NULL), -ENOENT);
    ASSERT_EQ_STR(cfg.ns, "default"); /* defaults even on failure */
    cm_config_free(&cfg);
    rmdir(dir);
}

static void test_load_too_large(void)
{
    char path[] = "/tmp/cm_test_big_XXXXXX";
    struct cm_config cfg;
    struct msgs m;
    int fd = mkstemp(path);

    REQUIRE(fd >= 0);
    REQUIRE(ftruncate(fd, CM_CONFIG_MAX_BYTES + 1) == 0);
    close(fd);
    memset(&m, 0, sizeof(m));
    ASSERT_EQ_INT(cm_config_load(path, &cfg, collect, &m), 0);
    ASSERT_EQ_INT(cfg.nerrors, 1);
    ASSERT_TRUE(m.n == 1 && strstr(m.text[0], ":1:1: error: config too large") != NULL);
    cm_config_free(&cfg);
    unlink(path);
}

static void test_find(void)
{
    char dir[] = "/tmp/cm_test_find_XXXXXX", buf[512], want[512], sub[300];

    REQUIRE(mkdtemp(dir) != NULL);
    REQUIRE(chdir(dir) == 0);
    unsetenv("CLOUDM_CONFIG");
    setenv("HOME", dir, 1);
    unsetenv("XDG_CONFIG_HOME");
    ASSERT_EQ_INT(cm_config_find(buf, sizeof(buf)), -ENOENT);

    /* $XDG_CONFIG_HOME/cloudm/cloudm.conf, defaulting to ~/.config */
    snprintf(sub, sizeof(sub), "%s/.config", dir);
    mkdir(sub, 0700);
    snprintf(sub, sizeof(sub), "%s/.config/cloudm", dir);
    mkdir(sub, 0700);
    snprintf(want, sizeof(want), "%s/.config/cloudm/cloudm.conf", dir);
    write_file(want, "");
    ASSERT_EQ_INT(cm_config_find(buf, sizeof(buf)), 0);
    ASSERT_EQ_STR(buf, want);
    setenv("XDG_CONFIG_HOME", "/nonexistent-cm-test", 1);
    ASSERT_EQ_INT(cm_config_find(buf, sizeof(buf)), -ENOENT);
    snprintf(sub, sizeof(sub), "%s/.config", dir);
    setenv("XDG_CONFIG_HOME", sub, 1);
    ASSERT_EQ_INT(cm_config_find(buf, sizeof(buf)), 0);
    ASSERT_EQ_STR(buf, want);

    /* ./cloudm.conf wins over XDG, reported as an absolute path. */
    write_file("cloudm.conf", "");
    ASSERT_EQ_INT(cm_config_find(buf, sizeof(buf)), 0);
    {
        char cwd[256];

        REQUIRE(getcwd(cwd, sizeof(cwd)) != NULL);
        snprintf(want, sizeof(want), "%s/cloudm.conf", cwd);
    }
    ASSERT_EQ_STR(buf, want);

    /* $CLOUDM_CONFIG wins over everything, as given, even if it does not exist. */
    setenv("CLOUDM_CONFIG", "/elsewhere/x.conf", 1);
    ASSERT_EQ_INT(cm_config_find(buf, sizeof(buf)), 0);
    ASSERT_EQ_STR(buf, "/elsewhere/x.conf");
    setenv("CLOUDM_CONFIG", "", 1); /* empty: ignored */
    ASSERT_EQ_INT(cm_config_find(buf, sizeof(buf)), 0);
    ASSERT_EQ_STR(buf, want);
    ASSERT_EQ_INT(cm_config_find(buf, 4), -ENAMETOOLONG);

    unlink("cloudm.conf");
    snprintf(want, sizeof(want), "%s/.config/cloudm/cloudm.conf", dir);
    unlink(want);
    snprintf(sub, sizeof(sub), "%s/.config/cloudm", dir);
    rmdir(sub);
    snprintf(sub, sizeof(sub), "%s/.config", dir);
    rmdir(sub);
    rmdir(dir);
}

/* The example configs shipped in config/examples/ must parse cleanly. */
static void test_examples(void)
{
#ifdef CM_SOURCE_DIR
    static const char *const files[] = {"lgamma.conf", "crypt.conf", "zlib.conf"};
    char path[1024];
    struct cm_config cfg;
    struct msgs m;
    size_t i;

    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/config/examples/%s", CM_SOURCE_DIR, files[i]);
        memset(&m, 0, sizeof(m));
        ASSERT_EQ_INT(cm_config_load(path, &cfg, collect, &m), 0);
        ASSERT_EQ_INT(cfg.nerrors, 0);
        ASSERT_EQ_INT(cfg.nwarnings, 0);
        ASSERT_TRUE(cfg.nfunctions > 0);
        if (m.n > 0)
            ASSERT_EQ_STR(m.text[0], "(no message expected)");
        cm_config_free(&cfg);
    }
#endif
}

int main(void)
{
    size_t i;

    for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
        cm_test_run_arg(bad_cases[i].name, run_bad_case, &bad_cases[i]);
    RUN_TEST(test_spec_examples);
    RUN_TEST(test_nul_byte);
    RUN_TEST(test_many_errors_all_reported);
    RUN_TEST(test_defaults);
    RUN_TEST(test_cache_section);
    RUN_TEST(test_shared_tier_keys);
    RUN_TEST(test_remote_keys);
    RUN_TEST(test_singleflight);
    RUN_TEST(test_hook_identity);
    RUN_TEST(test_function_keys);
    RUN_TEST(test_continuation_and_long_lines);
    RUN_TEST(test_skipped_function);
    RUN_TEST(test_cxx_sections);
    RUN_TEST(test_load);
    RUN_TEST(test_load_too_large);
    RUN_TEST(test_find);
    RUN_TEST(test_examples);
    return cm_test_summary();
}
