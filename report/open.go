package report

import (
	"github.com/pycore/pycore/session"
)

// openSession opens a core; close releases everything it mapped (a batch of
// thousands of cores must not leak mappings, see TestRunReleasesMappings).
func openSession(path string, o session.Options) (s *session.Session, close func(), err error) {
	s, err = session.Open(path, o)
	if err != nil {
		return nil, nil, err
	}
	return s, func() { s.Close() }, nil
}
