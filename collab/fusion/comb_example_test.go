package fusion_test

import (
	"fmt"
	"math"

	"github.com/cogenesis/cogenesis/collab/fusion"
	"github.com/cogenesis/cogenesis/llm"
)

func ExampleFeatures() {
	// The small model's distribution over a four-token vocabulary and the
	// cloud's top-2.
	q := []float64{0.5, 0.3, 0.15, 0.05}
	top := []llm.TopLogprob{{Token: 1, Logprob: math.Log(0.6)}, {Token: 3, Logprob: math.Log(0.2)}}
	pl, err := fusion.Complete(nil, q, top)
	if err != nil {
		fmt.Println(err)
		return
	}
	f := fusion.Features(nil, q, pl, top, 2, 0)
	for i, name := range fusion.FeatureNames(2) {
		fmt.Printf("%-27s %7.4f\n", name, f[i])
	}

	// An (untrained) CombModel turns the features into the weight of q.
	w := fusion.NewCombModel(2, 1).Weight(f)
	pc := fusion.Fuse(nil, q, pl, fusion.Learned, w)
	fmt.Println("w in (0, 1):", w > 0 && w < 1, "fused tokens:", len(pc))
	// Output:
	// slm_top_logprob_0           -0.6931
	// slm_top_logprob_1           -1.2040
	// cloud_top_logprob_0         -0.5108
	// cloud_top_logprob_1         -1.6094
	// top_overlap                  0.5000
	// slm_mass_on_cloud_top        0.3500
	// cloud_mass_on_slm_top        0.7538
	// slm_entropy                  1.1421
	// cloud_entropy                1.0583
	// slm_logprob_of_cloud_first  -1.2040
	// cloud_logprob_of_slm_first  -1.8718
	// log1p_step                   0.0000
	// w in (0, 1): true fused tokens: 4
}
