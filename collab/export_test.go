package collab

// LocalPromptTokens is the with-context prompt the local model evaluates
// for task, for benchmarks that compare against the bare engine.
func LocalPromptTokens(r *Runner, task Task) ([]int32, error) {
	return r.chatTokens(systemFor(task.Kind), task.privateInstruction())
}
