package privacy_test

import (
	"errors"
	"fmt"

	"github.com/cogenesis/cogenesis/privacy"
)

func ExampleLoadContext() {
	_, err := privacy.LoadContext("testdata/load/one_bad.json", privacy.LoadOptions{})
	if be, ok := errors.AsType[*privacy.BadRecordsError](err); ok {
		fmt.Println("bad records:", be.Records())
	}
	f, err := privacy.LoadContext("testdata/load/one_bad.json", privacy.LoadOptions{SkipBad: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range f.Records {
		fmt.Printf("record %d: %d private facts, %d activity items\n", r.Index, len(r.Vault.PrivateFacts), len(r.Vault.ActivityLog))
	}
	fmt.Println("skipped:", f.SkippedRecords())
	// Output:
	// bad records: [2]
	// record 0: 1 private facts, 1 activity items
	// record 1: 1 private facts, 1 activity items
	// record 3: 1 private facts, 1 activity items
	// skipped: [2]
}

func ExampleProfileFields() {
	block := "Name: Ann\n" +
		"Smart_device_usage: Alarm at 06:30;\n" +
		"Thermostat: 19 degrees at 22:00\n" +
		"Hobby: restores motorbikes"
	for _, f := range privacy.ProfileFields(block) {
		fmt.Printf("line %d: %q (known %v): %s\n", f.Line, f.Key, f.Known, f.Value.UnsafeText())
	}
	// Output:
	// line 1: "Name" (known true): Ann
	// line 2: "Smart_device_usage" (known true): Alarm at 06:30; Thermostat: 19 degrees at 22:00
	// line 4: "Hobby" (known false): restores motorbikes
}
