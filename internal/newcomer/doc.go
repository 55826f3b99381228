// Package newcomer walks a newcomer's first hour: a fresh clone of the
// repository's HEAD with ../shared beside it, MODEL=aidreams260K make
// demo, then the README's commands, checking exit statuses, the files
// they promise, the demo's heat maps against their traces, and that what
// the cloud saw holds the guarded instruction and none of the user's
// private context. Its test has the build tag newcomer: make newcomer
// runs it, and make test-long runs make newcomer.
package newcomer
