package unwind

import "fmt"

// DWARF register numbers of x86-64 used here.
const (
	regRAX = 0
	regRDX = 1
	regRCX = 2
	regRBX = 3
	regRSI = 4
	regRDI = 5
	regRBP = 6
	regRSP = 7
	regRA  = 16 // the return address column
	nRegs  = 17
)

type ruleKind uint8

const (
	ruleSame      ruleKind = iota // callee-saved, unchanged (the default here)
	ruleUndefined                 // no value (an undefined RA ends the stack)
	ruleOffset                    // saved at CFA+off
	ruleValOffset                 // value is CFA+off
	ruleRegister                  // in another register
	ruleExpr                      // a DWARF expression: not supported
)

type rule struct {
	kind ruleKind
	off  int64
	reg  uint64
}

// row is the unwind rule set at one pc.
type row struct {
	cfaReg  uint64
	cfaOff  int64
	cfaExpr bool // CFA given by an expression: not supported
	regs    [nRegs]rule
}

// maxInsns bounds one CFA program's execution.
const maxInsns = 1 << 16

// rowAt executes the CIE's initial instructions and the FDE's up to pc
// (link-time) and returns the row in force at pc.
func rowAt(f *fde, pc uint64) (row, error) {
	var r row
	r.regs[regRA] = rule{kind: ruleSame}
	if err := execute(&r, nil, f.cie, f.cie.initial, f.start, ^uint64(0)); err != nil {
		return r, fmt.Errorf("CIE program: %w", err)
	}
	initial := r
	if err := execute(&r, &initial, f.cie, f.insns, f.start, pc); err != nil {
		return r, fmt.Errorf("FDE program for %#x: %w", f.start, err)
	}
	return r, nil
}

func execute(r *row, initial *row, ci *cie, prog []byte, loc, pc uint64) error {
	c := &cursor{b: prog}
	var stack []row
	set := func(reg uint64, ru rule) {
		if reg < nRegs {
			r.regs[reg] = ru
		}
	}
	restore := func(reg uint64) {
		if reg < nRegs && initial != nil {
			r.regs[reg] = initial.regs[reg]
		}
	}
	advance := func(d uint64) bool {
		loc += d * ci.codeAlign
		return loc > pc
	}
	for n := 0; c.off < len(prog); n++ {
		if n > maxInsns {
			return fmt.Errorf("more than %d instructions", maxInsns)
		}
		op := c.u8()
		switch op >> 6 {
		case 1: // DW_CFA_advance_loc
			if advance(uint64(op & 0x3f)) {
				return nil
			}
			continue
		case 2: // DW_CFA_offset
			set(uint64(op&0x3f), rule{kind: ruleOffset, off: int64(c.uleb()) * ci.dataAlign})
			continue
		case 3: // DW_CFA_restore
			restore(uint64(op & 0x3f))
			continue
		}
		switch op {
		case 0x00: // nop
		case 0x01: // set_loc
			loc = c.pointer(ci.fdeEnc, 0)
			if loc > pc {
				return c.err
			}
		case 0x02:
			if advance(uint64(c.u8())) {
				return c.err
			}
		case 0x03:
			if advance(c.fixed(2)) {
				return c.err
			}
		case 0x04:
			if advance(c.fixed(4)) {
				return c.err
			}
		case 0x05: // offset_extended
			reg := c.uleb()
			set(reg, rule{kind: ruleOffset, off: int64(c.uleb()) * ci.dataAlign})
		case 0x06: // restore_extended
			restore(c.uleb())
		case 0x07: // undefined
			set(c.uleb(), rule{kind: ruleUndefined})
		case 0x08: // same_value
			set(c.uleb(), rule{kind: ruleSame})
		case 0x09: // register
			reg := c.uleb()
			set(reg, rule{kind: ruleRegister, reg: c.uleb()})
		case 0x0a: // remember_state
			if len(stack) > 64 {
				return fmt.Errorf("remember_state nested deeper than 64")
			}
			stack = append(stack, *r)
		case 0x0b: // restore_state
			if len(stack) == 0 {
				return fmt.Errorf("restore_state with no remembered state")
			}
			// The CFA rule is restored too, as libgcc's unwinder does.
			*r = stack[len(stack)-1]
			stack = stack[:len(stack)-1]
		case 0x0c: // def_cfa
			r.cfaReg, r.cfaOff, r.cfaExpr = c.uleb(), int64(c.uleb()), false
		case 0x0d: // def_cfa_register
			r.cfaReg, r.cfaExpr = c.uleb(), false
		case 0x0e: // def_cfa_offset
			r.cfaOff = int64(c.uleb())
		case 0x0f: // def_cfa_expression
			c.bytes(c.uleb())
			r.cfaExpr = true
		case 0x10: // expression
			reg := c.uleb()
			c.bytes(c.uleb())
			set(reg, rule{kind: ruleExpr})
		case 0x11: // offset_extended_sf
			reg := c.uleb()
			set(reg, rule{kind: ruleOffset, off: c.sleb() * ci.dataAlign})
		case 0x12: // def_cfa_sf
			r.cfaReg, r.cfaOff, r.cfaExpr = c.uleb(), c.sleb()*ci.dataAlign, false
		case 0x13: // def_cfa_offset_sf
			r.cfaOff = c.sleb() * ci.dataAlign
		case 0x14: // val_offset
			reg := c.uleb()
			set(reg, rule{kind: ruleValOffset, off: int64(c.uleb()) * ci.dataAlign})
		case 0x15: // val_offset_sf
			reg := c.uleb()
			set(reg, rule{kind: ruleValOffset, off: c.sleb() * ci.dataAlign})
		case 0x16: // val_expression
			reg := c.uleb()
			c.bytes(c.uleb())
			set(reg, rule{kind: ruleExpr})
		case 0x2e: // GNU_args_size
			c.uleb()
		case 0x2f: // GNU_negative_offset_extended
			reg := c.uleb()
			set(reg, rule{kind: ruleOffset, off: -int64(c.uleb()) * ci.dataAlign})
		default:
			return fmt.Errorf("unknown CFA instruction %#x", op)
		}
		if c.err != nil {
			return c.err
		}
	}
	return c.err
}
