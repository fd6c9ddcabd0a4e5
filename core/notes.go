package core

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Core note types (name "CORE"), from <linux/elf.h>.
const (
	ntPrstatus = 1
	ntPrpsinfo = 3
	ntAuxv     = 6
	ntSiginfo  = 0x53494749
	ntFile     = 0x46494c45
)

// Layout of x86-64 struct elf_prstatus (checked against <sys/procfs.h>:
// sizeof 336, pr_cursig at 12, pr_pid at 32, pr_reg at 112, 27 registers).
const (
	prstatusCursigOff = 12
	prstatusPidOff    = 32
	prstatusRegOff    = 112
	prstatusNumRegs   = 27
	prstatusMinSize   = prstatusRegOff + prstatusNumRegs*8
)

// Layout of x86-64 struct elf_prpsinfo (sizeof 136).
const (
	prpsinfoSnameOff  = 1
	prpsinfoUIDOff    = 16
	prpsinfoGIDOff    = 20
	prpsinfoPIDOff    = 24
	prpsinfoPPIDOff   = 28
	prpsinfoFnameOff  = 40
	prpsinfoFnameLen  = 16
	prpsinfoPsargsOff = 56
	prpsinfoPsargsLen = 80
	prpsinfoSize      = prpsinfoPsargsOff + prpsinfoPsargsLen
)

// siginfo_t: si_signo, si_errno, si_code, then a union; for fault signals
// si_addr is at 16, for signals sent by a process si_pid and si_uid are.
const siginfoMinSize = 24

// Limits for NT_FILE.
const (
	maxFilePageSize = 1 << 30
	maxPathLen      = 1 << 16
)

// fileRange is one entry of NT_FILE: [Start, End) maps Path at Offset.
type fileRange struct {
	Start, End Address
	Offset     uint64
	Path       string
}

// coreNotes is everything the notes of a core told us.
type coreNotes struct {
	threads  []*Thread
	signal   *SignalInfo
	psinfo   *PsInfo
	auxv     []AuxvEntry
	files    []fileRange
	warnings []string
}

// parseCoreNotes decodes the records of one PT_NOTE segment into n. Records
// it cannot decode become warnings naming the record's file offset: a core
// with a damaged note is still worth reading.
func (n *coreNotes) parse(data []byte, fileOff uint64) {
	recs, err := parseNoteRecords(data, 4)
	if err != nil {
		n.warnings = append(n.warnings, fmt.Sprintf("notes at file offset %#x: %v", fileOff, err))
	}
	for _, r := range recs {
		if r.Name != "CORE" {
			continue
		}
		where := func(err error) {
			n.warnings = append(n.warnings, fmt.Sprintf("note at file offset %#x: %v", fileOff+r.Off, err))
		}
		switch r.Type {
		case ntPrstatus:
			t, err := parsePrstatus(r.Desc)
			if err != nil {
				where(err)
				continue
			}
			n.threads = append(n.threads, t)
		case ntPrpsinfo:
			if n.psinfo != nil {
				continue
			}
			ps, err := parsePrpsinfo(r.Desc)
			if err != nil {
				where(err)
				continue
			}
			n.psinfo = ps
		case ntSiginfo:
			// gdb writes one per thread; the first belongs to Threads[0].
			if n.signal != nil {
				continue
			}
			si, err := parseSiginfo(r.Desc)
			if err != nil {
				where(err)
				continue
			}
			n.signal = si
		case ntAuxv:
			if n.auxv != nil {
				continue
			}
			av, err := parseAuxv(r.Desc)
			if err != nil {
				where(err)
			}
			n.auxv = av
		case ntFile:
			if n.files != nil {
				continue
			}
			fs, err := parseFileNote(r.Desc)
			if err != nil {
				where(err)
				continue
			}
			n.files = fs
		}
	}
}

func parsePrstatus(d []byte) (*Thread, error) {
	if len(d) < prstatusMinSize {
		return nil, fmt.Errorf("NT_PRSTATUS is %d bytes, want at least %d (x86-64 elf_prstatus)", len(d), prstatusMinSize)
	}
	le := binary.LittleEndian
	t := &Thread{
		TID:    int(int32(le.Uint32(d[prstatusPidOff:]))),
		Signal: int(le.Uint16(d[prstatusCursigOff:])),
	}
	var r [prstatusNumRegs]uint64
	for i := range r {
		r[i] = le.Uint64(d[prstatusRegOff+8*i:])
	}
	t.Regs = Registers{
		R15: r[0], R14: r[1], R13: r[2], R12: r[3], RBP: r[4], RBX: r[5], R11: r[6], R10: r[7], R9: r[8], R8: r[9],
		RAX: r[10], RCX: r[11], RDX: r[12], RSI: r[13], RDI: r[14], OrigRAX: r[15], RIP: r[16], CS: r[17], EFlags: r[18],
		RSP: r[19], SS: r[20], FSBase: r[21], GSBase: r[22], DS: r[23], ES: r[24], FS: r[25], GS: r[26],
	}
	return t, nil
}

func parsePrpsinfo(d []byte) (*PsInfo, error) {
	if len(d) < prpsinfoSize {
		return nil, fmt.Errorf("NT_PRPSINFO is %d bytes, want at least %d (x86-64 elf_prpsinfo)", len(d), prpsinfoSize)
	}
	le := binary.LittleEndian
	return &PsInfo{
		State: d[prpsinfoSnameOff],
		UID:   int(le.Uint32(d[prpsinfoUIDOff:])),
		GID:   int(le.Uint32(d[prpsinfoGIDOff:])),
		PID:   int(int32(le.Uint32(d[prpsinfoPIDOff:]))),
		PPID:  int(int32(le.Uint32(d[prpsinfoPPIDOff:]))),
		Fname: cString(d[prpsinfoFnameOff : prpsinfoFnameOff+prpsinfoFnameLen]),
		// The kernel replaces the NULs between arguments with spaces.
		Args: string(bytes.TrimRight([]byte(cString(d[prpsinfoPsargsOff:prpsinfoPsargsOff+prpsinfoPsargsLen])), " ")),
	}, nil
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func parseSiginfo(d []byte) (*SignalInfo, error) {
	if len(d) < siginfoMinSize {
		return nil, fmt.Errorf("NT_SIGINFO is %d bytes, want at least %d", len(d), siginfoMinSize)
	}
	le := binary.LittleEndian
	si := &SignalInfo{
		Signo: int(int32(le.Uint32(d[0:]))),
		Errno: int(int32(le.Uint32(d[4:]))),
		Code:  int(int32(le.Uint32(d[8:]))),
	}
	switch {
	case si.Code > 0 && hasFaultAddr(si.Signo):
		si.Addr = Address(le.Uint64(d[16:]))
	case si.Code <= 0:
		// SI_USER, SI_TKILL, SI_QUEUE...: the union holds the sender.
		si.SenderPID = int(int32(le.Uint32(d[16:])))
		si.SenderUID = int(le.Uint32(d[20:]))
	}
	return si, nil
}

func parseAuxv(d []byte) ([]AuxvEntry, error) {
	var av []AuxvEntry
	le := binary.LittleEndian
	for off := 0; off+16 <= len(d); off += 16 {
		e := AuxvEntry{Tag: le.Uint64(d[off:]), Val: le.Uint64(d[off+8:])}
		if e.Tag == AtNull {
			return av, nil
		}
		av = append(av, e)
	}
	if len(d)%16 != 0 {
		return av, fmt.Errorf("NT_AUXV is %d bytes, not a whole number of 16-byte entries", len(d))
	}
	return av, nil
}

// parseFileNote decodes NT_FILE: count, page_size, count x {start, end,
// pgoff}, then count NUL-terminated paths.
func parseFileNote(d []byte) ([]fileRange, error) {
	if len(d) < 16 {
		return nil, fmt.Errorf("NT_FILE is %d bytes, too short for its count and page size", len(d))
	}
	le := binary.LittleEndian
	count := le.Uint64(d[0:])
	pageSize := le.Uint64(d[8:])
	if pageSize == 0 || pageSize > maxFilePageSize || pageSize&(pageSize-1) != 0 {
		return nil, fmt.Errorf("NT_FILE page size %d is not a power of two up to %d", pageSize, maxFilePageSize)
	}
	if count > uint64(len(d)-16)/24 {
		return nil, fmt.Errorf("NT_FILE claims %d entries, but its %d bytes hold at most %d", count, len(d), (len(d)-16)/24)
	}
	names := d[16+24*count:]
	files := make([]fileRange, 0, count)
	for i := uint64(0); i < count; i++ {
		e := d[16+24*i:]
		start, end, pgoff := le.Uint64(e), le.Uint64(e[8:]), le.Uint64(e[16:])
		if end < start {
			return nil, fmt.Errorf("NT_FILE entry %d: end %#x is below start %#x", i, end, start)
		}
		if pgoff > ^uint64(0)/pageSize {
			return nil, fmt.Errorf("NT_FILE entry %d: page offset %#x times page size %d overflows", i, pgoff, pageSize)
		}
		nul := bytes.IndexByte(names, 0)
		if nul < 0 {
			return nil, fmt.Errorf("NT_FILE has %d entries but only %d NUL-terminated paths", count, i)
		}
		if nul > maxPathLen {
			return nil, fmt.Errorf("NT_FILE entry %d: path of %d bytes is longer than %d", i, nul, maxPathLen)
		}
		files = append(files, fileRange{Start: Address(start), End: Address(end), Offset: pgoff * pageSize, Path: string(names[:nul])})
		names = names[nul+1:]
	}
	return files, nil
}
