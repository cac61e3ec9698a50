package cli

import (
	"encoding/json"

	"github.com/novadev/novadev/internal/supervisor"
	"github.com/novadev/novadev/internal/verify"
)

// CIJSON is ci -o json: each stage's outcome, the artifacts and the exit
// code (what printCI says in text).
type CIJSON struct {
	ExitCode  int                    `json:"exitCode"`
	TimedOut  bool                   `json:"timedOut"`
	UpError   string                 `json:"upError,omitempty"`
	Verify    *verify.Report         `json:"verify,omitempty"`
	VerifyErr string                 `json:"verifyError,omitempty"`
	Down      *supervisor.DownResult `json:"down,omitempty"`
	DownError string                 `json:"downError,omitempty"`
	Kept      bool                   `json:"kept"`
	Artifacts string                 `json:"artifacts"`
	Files     []string               `json:"files"`
}

func printCIJSON(s Streams, rep *CIReport) {
	out := CIJSON{ExitCode: rep.Code, TimedOut: rep.TimedOut, Verify: rep.Verify, Down: rep.Down,
		Kept: rep.Down == nil && rep.DownErr == nil, Artifacts: rep.Artifacts, Files: rep.Files}
	if out.Files == nil {
		out.Files = []string{}
	}
	if rep.UpErr != nil {
		out.UpError = rep.UpErr.Error()
	}
	if rep.VerifyErr != nil {
		out.VerifyErr = rep.VerifyErr.Error()
	}
	if rep.DownErr != nil {
		out.DownError = rep.DownErr.Error()
	}
	enc := json.NewEncoder(s.Out)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}
