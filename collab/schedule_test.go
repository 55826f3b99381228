package collab

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSchedule(t *testing.T) {
	tests := []struct {
		in   string
		want []bool // steps 0..7
	}{
		{"all", []bool{true, true, true, true, true, true, true, true}},
		{"first:3", []bool{true, true, true, false, false, false, false, false}},
		{"first:0", []bool{false, false, false, false, false, false, false, false}},
		{"pkt:4,1,0", []bool{true, false, false, false, true, false, false, false}},
		{"pkt:3,2,5", []bool{true, true, false, true, true, false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := ParseSchedule(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]bool, len(tt.want))
			for k := range got {
				got[k] = s.Consult(k)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Consult (-want +got):\n%s", diff)
			}
			if back, err := ParseSchedule(s.String()); err != nil || back != s {
				t.Errorf("String %q does not parse back: %v", s.String(), err)
			}
		})
	}
	for _, bad := range []string{"some", "first", "first:x", "first:-1", "pkt:0,0,0", "pkt:2,3,0", "pkt:1,1", "all:3"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("ParseSchedule(%q) accepted", bad)
		}
	}
}
