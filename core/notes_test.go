package core

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// Hand-built notes: unit tests of the parsers' bounds. That the parsers
// read real cores right is checked in core_test.go.

func noteRecord(name string, typ uint32, desc []byte) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	binary.Write(&b, le, uint32(len(name)+1))
	binary.Write(&b, le, uint32(len(desc)))
	binary.Write(&b, le, typ)
	b.WriteString(name)
	b.WriteByte(0)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	b.Write(desc)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

func u64s(vs ...uint64) []byte {
	b := make([]byte, 8*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	return b
}

func fileNote(pageSize uint64, entries [][3]uint64, names ...string) []byte {
	b := u64s(uint64(len(entries)), pageSize)
	for _, e := range entries {
		b = append(b, u64s(e[0], e[1], e[2])...)
	}
	for _, n := range names {
		b = append(b, n...)
		b = append(b, 0)
	}
	return b
}

func TestParseFileNote(t *testing.T) {
	good := fileNote(4096, [][3]uint64{{0x1000, 0x3000, 0}, {0x3000, 0x4000, 2}}, "/bin/a", "/lib/b.so")
	files, err := parseFileNote(good)
	if err != nil {
		t.Fatal(err)
	}
	want := []fileRange{{0x1000, 0x3000, 0, "/bin/a"}, {0x3000, 0x4000, 0x2000, "/lib/b.so"}}
	if len(files) != 2 || files[0] != want[0] || files[1] != want[1] {
		t.Errorf("got %+v, want %+v", files, want)
	}

	for _, c := range []struct {
		name string
		desc []byte
		want string
	}{
		{"too short", []byte{1, 2, 3}, "too short"},
		{"absurd count", append(u64s(1<<60, 4096), make([]byte, 48)...), "claims 1152921504606846976 entries"},
		{"count past the data", fileNote(4096, [][3]uint64{{1, 2, 0}})[:30], "claims 1 entries"},
		{"zero page size", fileNote(0, nil), "page size 0"},
		{"odd page size", fileNote(3000, nil), "page size 3000"},
		{"end below start", fileNote(4096, [][3]uint64{{0x2000, 0x1000, 0}}, "/x"), "end 0x1000 is below start 0x2000"},
		{"offset overflow", fileNote(4096, [][3]uint64{{0x1000, 0x2000, 1 << 62}}, "/x"), "overflows"},
		{"missing names", fileNote(4096, [][3]uint64{{0x1000, 0x2000, 0}, {0x2000, 0x3000, 0}}, "/only-one"), "only 1 NUL-terminated paths"},
		{"unterminated name", fileNote(4096, [][3]uint64{{0x1000, 0x2000, 0}})[:16+24+0], "only 0 NUL-terminated"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseFileNote(c.desc)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestParsePrstatus(t *testing.T) {
	d := make([]byte, 336)
	binary.LittleEndian.PutUint16(d[12:], 11)
	binary.LittleEndian.PutUint32(d[32:], 4242)
	for i := 0; i < 27; i++ {
		binary.LittleEndian.PutUint64(d[112+8*i:], uint64(100+i))
	}
	th, err := parsePrstatus(d)
	if err != nil {
		t.Fatal(err)
	}
	// user_regs_struct order: r15 first, rip 17th, rsp 20th, gs last.
	if th.TID != 4242 || th.Signal != 11 || th.Regs.R15 != 100 || th.Regs.RIP != 116 || th.Regs.RSP != 119 || th.Regs.FSBase != 121 || th.Regs.GS != 126 {
		t.Errorf("got %+v", th)
	}
	if _, err := parsePrstatus(d[:300]); err == nil || !strings.Contains(err.Error(), "300 bytes") {
		t.Errorf("short prstatus: %v", err)
	}
}

func TestParsePrpsinfo(t *testing.T) {
	d := make([]byte, 136)
	d[1] = 'R'
	binary.LittleEndian.PutUint32(d[16:], 1000)
	binary.LittleEndian.PutUint32(d[24:], 77)
	copy(d[40:], "python3.13")
	copy(d[56:], "python3.13 -c pass ")
	ps, err := parsePrpsinfo(d)
	if err != nil {
		t.Fatal(err)
	}
	if ps.State != 'R' || ps.UID != 1000 || ps.PID != 77 || ps.Fname != "python3.13" || ps.Args != "python3.13 -c pass" {
		t.Errorf("got %+v", ps)
	}
	// A name filling its field has no NUL.
	copy(d[40:56], "0123456789abcdef")
	if ps, _ := parsePrpsinfo(d); ps.Fname != "0123456789abcdef" {
		t.Errorf("full-width name %q", ps.Fname)
	}
	if _, err := parsePrpsinfo(d[:100]); err == nil {
		t.Errorf("short prpsinfo accepted")
	}
}

func TestParseSiginfo(t *testing.T) {
	si := func(signo, code int32, a, b uint32) []byte {
		d := make([]byte, 128)
		binary.LittleEndian.PutUint32(d[0:], uint32(signo))
		binary.LittleEndian.PutUint32(d[8:], uint32(code))
		binary.LittleEndian.PutUint32(d[16:], a)
		binary.LittleEndian.PutUint32(d[20:], b)
		return d
	}
	fault, _ := parseSiginfo(si(SIGBUS, 2, 0xbeef000, 0x7f))
	if fault.Addr != 0x7f0beef000 || !fault.HasAddr() || fault.CodeName() != "BUS_ADRERR" || fault.SenderPID != 0 {
		t.Errorf("SIGBUS fault: %+v %s", fault, fault)
	}
	// abort() raises SIGABRT with tgkill: the union holds the sender.
	abrt, _ := parseSiginfo(si(SIGABRT, -6, 555, 1000))
	if abrt.Addr != 0 || abrt.HasAddr() || abrt.SenderPID != 555 || abrt.SenderUID != 1000 || abrt.CodeName() != "SI_TKILL" || !abrt.IsFatal() {
		t.Errorf("SIGABRT: %+v", abrt)
	}
	if got := abrt.String(); got != "SIGABRT (SI_TKILL) from pid 555 uid 1000" {
		t.Errorf("String() = %q", got)
	}
	// kill -SEGV: no fault address even for a fault signal.
	kill, _ := parseSiginfo(si(SIGSEGV, 0, 1, 2))
	if kill.Addr != 0 || kill.SenderPID != 1 {
		t.Errorf("kill -SEGV: %+v", kill)
	}
	if term, _ := parseSiginfo(si(SIGTERM, 0, 1, 2)); term.IsFatal() {
		t.Errorf("SIGTERM counted as a crash")
	}
	if _, err := parseSiginfo(make([]byte, 10)); err == nil {
		t.Errorf("short siginfo accepted")
	}
	// A general protection fault (SI_KERNEL) has no address.
	if gp, _ := parseSiginfo(si(SIGSEGV, 0x80, 0, 0)); gp.HasAddr() || gp.CodeName() != "SI_KERNEL" {
		t.Errorf("SI_KERNEL SIGSEGV: %+v (%s)", gp, gp.CodeName())
	}
}

func TestSignalCause(t *testing.T) {
	si := func(signo, code, pid int) *SignalInfo {
		return &SignalInfo{Signo: signo, Code: code, SenderPID: pid, SenderUID: 1000}
	}
	ps := &PsInfo{PID: 555}
	threads := []*Thread{{TID: 556}, {TID: 555}}
	for _, c := range []struct {
		name string
		p    *Process
		want Cause
	}{
		{"no signal", &Process{PsInfo: ps}, CauseStop},
		{"gdb's SIGSTOP", &Process{PsInfo: ps, Signal: si(SIGSTOP, 0x80, 0)}, CauseStop},
		{"SEGV_MAPERR", &Process{PsInfo: ps, Signal: si(SIGSEGV, 1, 0)}, CauseFault},
		{"general protection fault", &Process{PsInfo: ps, Signal: si(SIGSEGV, 0x80, 0)}, CauseFault},
		{"abort()", &Process{PsInfo: ps, Signal: si(SIGABRT, -6, 555)}, CauseSelf},
		{"kill -ABRT", &Process{PsInfo: ps, Signal: si(SIGABRT, 0, 4242)}, CauseSent},
		{"kill from an outer PID namespace", &Process{PsInfo: ps, Signal: si(SIGABRT, 0, 0)}, CauseSent},
		{"Ctrl-\\", &Process{PsInfo: ps, Signal: si(SIGQUIT, 0x80, 0)}, CauseSent},
		{"RLIMIT_CPU", &Process{PsInfo: ps, Signal: si(SIGXCPU, 0x80, 0)}, CauseSelf},
		{"abort() without NT_PRPSINFO: a thread of the core", &Process{Threads: threads, Signal: si(SIGABRT, -6, 555)}, CauseSelf},
		{"kill without NT_PRPSINFO", &Process{Threads: threads, Signal: si(SIGABRT, 0, 4242)}, CauseSent},
		{"no NT_SIGINFO", &Process{PsInfo: ps, Signal: &SignalInfo{Signo: SIGABRT, NoSiginfo: true}}, CauseUnknown},
	} {
		if got := c.p.SignalCause(); got != c.want {
			t.Errorf("%s: cause %q, want %q", c.name, got, c.want)
		}
	}
	if CauseSent.Crash() || CauseStop.Crash() || !CauseFault.Crash() || !CauseSelf.Crash() || !CauseUnknown.Crash() {
		t.Errorf("Crash(): only fault, self and unknown are crashes")
	}
}

func TestParseAuxv(t *testing.T) {
	av, err := parseAuxv(u64s(AtPagesz, 4096, AtExecfn, 0x7ffd0000, AtNull, 0, 99, 99))
	if err != nil || len(av) != 2 || av[1] != (AuxvEntry{AtExecfn, 0x7ffd0000}) {
		t.Errorf("got %v, %v", av, err)
	}
	if _, err := parseAuxv(u64s(AtPagesz, 4096, 5)); err == nil {
		t.Errorf("auxv with a half entry accepted")
	}
	p := &Process{Auxv: av}
	if v, ok := p.AuxvValue(AtPagesz); !ok || v != 4096 {
		t.Errorf("AuxvValue(AT_PAGESZ) = %v, %v", v, ok)
	}
}

func TestParseNoteRecords(t *testing.T) {
	data := append(noteRecord("CORE", ntAuxv, u64s(AtPagesz, 4096)), noteRecord("LINUX", 0x202, []byte{1, 2, 3})...)
	notes, err := parseNoteRecords(data, 4)
	if err != nil || len(notes) != 2 || notes[0].Name != "CORE" || notes[1].Name != "LINUX" || len(notes[1].Desc) != 3 || notes[1].Off != 12+8+16 {
		t.Fatalf("got %+v, %v", notes, err)
	}
	// A desc size that runs past the data.
	bad := bytes.Clone(data)
	binary.LittleEndian.PutUint32(bad[4:], 0xfffffff0)
	if _, err := parseNoteRecords(bad, 4); err == nil || !strings.Contains(err.Error(), "run past the end") {
		t.Errorf("oversized desc: %v", err)
	}
	if _, err := parseNoteRecords(data[:5], 4); err == nil || !strings.Contains(err.Error(), "header needs 12 bytes") {
		t.Errorf("cut header: %v", err)
	}

	// Bad records in a core become warnings; good ones still count.
	var n coreNotes
	n.parse(append(noteRecord("CORE", ntPrstatus, make([]byte, 20)), noteRecord("CORE", ntFile, fileNote(3, nil))...), 0x500)
	if len(n.threads) != 0 || len(n.warnings) != 2 || !strings.Contains(n.warnings[0], "file offset 0x500") {
		t.Errorf("warnings %q", n.warnings)
	}
}

func TestParseCoreHeaderPNXNum(t *testing.T) {
	// 70000 segments do not fit e_phnum: it says PN_XNUM and section 0 holds the count.
	const phnum = 3
	hdr := make([]byte, 64+64+phnum*56)
	copy(hdr, elfMagic)
	hdr[4], hdr[5], hdr[6] = 2, 1, 1
	le := binary.LittleEndian
	le.PutUint16(hdr[16:], 4)  // ET_CORE
	le.PutUint16(hdr[18:], 62) // EM_X86_64
	le.PutUint64(hdr[32:], 128)
	le.PutUint64(hdr[40:], 64)
	le.PutUint16(hdr[54:], 56)
	le.PutUint16(hdr[56:], 0xffff)
	le.PutUint16(hdr[58:], 64)
	le.PutUint32(hdr[64+44:], phnum)
	for i := 0; i < phnum; i++ {
		le.PutUint32(hdr[128+56*i:], 1) // PT_LOAD
		le.PutUint64(hdr[128+56*i+16:], uint64(0x1000*(i+1)))
	}
	h, err := parseCoreHeader(hdr)
	if err != nil || len(h.progs) != phnum || h.progs[2].Vaddr != 0x3000 {
		t.Fatalf("got %+v, %v", h, err)
	}
	le.PutUint32(hdr[64+44:], 1000)
	if _, err := parseCoreHeader(hdr); err == nil || !strings.Contains(err.Error(), "program header table ends at") {
		t.Errorf("PN_XNUM with a count past the file: %v", err)
	}
}

func TestBuildMappings(t *testing.T) {
	loads := []loadSeg{
		{Start: 0x1000, End: 0x3000, Off: 0x100, Filesz: 0x1000, Perm: PermRead},
		{Start: 0x5000, End: 0x6000, Off: 0x1100, Filesz: 0x1000, Perm: PermRead | PermWrite},
		{Start: 0x5800, End: 0x5900, Off: 0x9999, Filesz: 0x100}, // inside the previous one
	}
	files := []fileRange{
		{Start: 0x1000, End: 0x2000, Offset: 0, Path: "/a"},
		{Start: 0x2000, End: 0x3000, Offset: 0x4000, Path: "/b"},
		{Start: 0x3000, End: 0x4000, Offset: 0x1000, Path: "/a"}, // gdb left it out of the segments
	}
	maps, warnings := buildMappings(loads, files)
	type row struct {
		start, end Address
		path       string
		off, core  uint64
		coreOff    uint64
	}
	want := []row{
		{0x1000, 0x2000, "/a", 0, 0x1000, 0x100},
		{0x2000, 0x3000, "/b", 0x4000, 0, 0x1100},
		{0x3000, 0x4000, "/a", 0x1000, 0, 0},
		{0x5000, 0x6000, "", 0, 0x1000, 0x1100},
	}
	if len(maps) != len(want) {
		t.Fatalf("got %d mappings %v, want %d", len(maps), maps, len(want))
	}
	for i, w := range want {
		m := maps[i]
		got := row{m.Start, m.End, m.Path, m.FileOffset, m.CoreSize, m.coreOff}
		if got != w {
			t.Errorf("mapping %d: %+v, want %+v", i, got, w)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "lies inside") {
		t.Errorf("warnings %q", warnings)
	}
	if maps[2].PermKnown() || !maps[0].PermKnown() {
		t.Errorf("perm known: %v %v", maps[0].PermKnown(), maps[2].PermKnown())
	}

	// Reads through them: core bytes, then a filtered range with no file.
	core := make([]byte, 0x2100)
	for i := range core {
		core[i] = byte(i)
	}
	p := &Process{Mappings: maps, core: core}
	buf := make([]byte, 0x20)
	if _, err := p.ReadAt(buf, 0x1ff0); err == nil || !strings.Contains(err.Error(), "in filtered segment of /b (file not found)") {
		t.Errorf("read into the filtered part: %v", err)
	}
	// 0x5ff0+0x20 runs past the last mapping: the first 0x10 bytes come.
	n, err := p.ReadAt(buf, 0x5ff0)
	if n != 0x10 || err == nil || !strings.Contains(err.Error(), "read 32 bytes at 0x6000: not mapped") || !bytes.Equal(buf[:n], core[0x20f0:]) {
		t.Errorf("read past the end: %d, %v", n, err)
	}
	if p.FindMapping(0x4800) != nil || p.FindMapping(0x3fff) != maps[2] || p.FindMapping(0x6000) != nil {
		t.Errorf("FindMapping picks the wrong mapping")
	}
}

func TestPermAndSignalNames(t *testing.T) {
	if s := (PermRead | PermExec).String(); s != "r-x" {
		t.Errorf("perm %q", s)
	}
	for signo, want := range map[int]string{SIGSEGV: "SIGSEGV", 34: "SIGRTMIN", 40: "SIGRTMIN+6", 99: "signal 99", 0: "signal 0"} {
		if got := SignalName(signo); got != want {
			t.Errorf("SignalName(%d) = %q, want %q", signo, got, want)
		}
	}
}
