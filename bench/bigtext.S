/*
 * bigtext.S - 20000 local functions of 1000 bytes each (a 20 MB text section with 20000
 * .symtab entries), linked into cmbench_bigtext for the code-identity start-up rows.
 * Nothing calls them.
 */
        .text
        .altmacro
        .macro  padfn n
        .type   pad_fn\n, @function
pad_fn\n:
        .fill   999, 1, 0x90
        ret
        .size   pad_fn\n, . - pad_fn\n
        .endm
        .set    i, 0
        .rept   20000
        padfn   %i
        .set    i, i + 1
        .endr
        .section .note.GNU-stack, "", @progbits
