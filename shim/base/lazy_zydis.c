/*
 * lazy_zydis.c - the Zydis functions libcloudm.so uses, loaded on first use (base.h, "lazy").
 *
 * What it does: defines ZydisDecoderInit, ZydisDecoderDecodeFull and ZydisCalcAbsoluteAddress
 * under their own names (the inline hooker, arch/x86_64/inline.c, and the code identities,
 * ident/codeid.c, call them as they are): each calls Zydis's own function through the table,
 * libZydis being opened the first time one is called. Without Zydis each returns
 * ZYAN_STATUS_FAILED: no instruction is decoded, so no inline hook is installed and no code
 * identity is computed (the real functions run, the messages say why).
 *
 * What it does not do: anything for the `cloudm` command and the tests, which link Zydis itself
 * (this file is in libcloudm.so alone); no symbol is exported (exports.map).
 */
#include "base.h"

#include <Zydis/Zydis.h>

enum { DEC_INIT, DEC_FULL, CALC_ABS, NSYMS };

static const struct cm_lazy_sym syms[NSYMS] = {
    [DEC_INIT] = {"ZydisDecoderInit", NULL},
    [DEC_FULL] = {"ZydisDecoderDecodeFull", NULL},
    [CALC_ABS] = {"ZydisCalcAbsoluteAddress", NULL},
};
static void *ptrs[NSYMS];
static struct cm_lazy zydis = {
    .soname = "libZydis.so.4.0",
    .needed_for = "no inline hook and no code identity in this process",
    .syms = syms,
    .ptrs = ptrs,
    .nsyms = NSYMS,
};

ZyanStatus ZydisDecoderInit(ZydisDecoder *decoder, ZydisMachineMode machine_mode,
                            ZydisStackWidth stack_width)
{
    ZyanStatus (*f)(ZydisDecoder *, ZydisMachineMode, ZydisStackWidth) =
        cm_lazy_get(&zydis, DEC_INIT);
    return f ? f(decoder, machine_mode, stack_width) : ZYAN_STATUS_FAILED;
}

ZyanStatus ZydisDecoderDecodeFull(const ZydisDecoder *decoder, const void *buffer, ZyanUSize length,
                                  ZydisDecodedInstruction *instruction,
                                  ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT])
{
    ZyanStatus (*f)(const ZydisDecoder *, const void *, ZyanUSize, ZydisDecodedInstruction *,
                    ZydisDecodedOperand *) = cm_lazy_get(&zydis, DEC_FULL);
    return f ? f(decoder, buffer, length, instruction, operands) : ZYAN_STATUS_FAILED;
}

ZyanStatus ZydisCalcAbsoluteAddress(const ZydisDecodedInstruction *instruction,
                                    const ZydisDecodedOperand *operand, ZyanU64 runtime_address,
                                    ZyanU64 *result_address)
{
    ZyanStatus (*f)(const ZydisDecodedInstruction *, const ZydisDecodedOperand *, ZyanU64,
                    ZyanU64 *) = cm_lazy_get(&zydis, CALC_ABS);
    return f ? f(instruction, operand, runtime_address, result_address) : ZYAN_STATUS_FAILED;
}
