package enginetest

import (
	"encoding/binary"
	"math"
)

// f16 converts a float32 to IEEE half precision, rounding to nearest even.
func f16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int((b>>23)&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case (b>>23)&0xff == 0xff: // Inf or NaN
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp >= 0x1f:
		return sign | 0x7c00
	case exp <= 0:
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - exp)
		half := uint32(1) << (shift - 1)
		r := mant >> shift
		rem := mant & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint16(exp)<<10 | uint16(mant>>13)
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, which is still correct
	}
	return sign | r
}

// f16to32 converts half precision back (for tests and dequantization).
func f16to32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		return float32(math.Copysign(float64(mant)*math.Pow(2, -24), float64(int32(sign)|1)))
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// appendF16 appends x as half-precision values.
func appendF16(dst []byte, x []float32) []byte {
	for _, v := range x {
		dst = binary.LittleEndian.AppendUint16(dst, f16(v))
	}
	return dst
}

// appendQ8_0 quantizes x (a multiple of 32 long) to ggml's Q8_0 blocks:
// a half-precision scale d = max|x|/127 and 32 signed bytes round(x/d).
func appendQ8_0(dst []byte, x []float32) []byte {
	for b := 0; b < len(x); b += 32 {
		blk := x[b : b+32]
		var amax float32
		for _, v := range blk {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d := amax / 127
		id := float32(0)
		if d != 0 {
			id = 1 / d
		}
		dst = binary.LittleEndian.AppendUint16(dst, f16(d))
		for _, v := range blk {
			dst = append(dst, byte(int8(math.Round(float64(v*id)))))
		}
	}
	return dst
}

// appendQ4_0 quantizes x (a multiple of 32 long) to ggml's Q4_0 blocks: a
// half-precision scale d = m/-8, where m is the value of largest
// magnitude, and 16 bytes of 4-bit codes q = x/d + 8 (value (q-8)*d); byte
// j holds element j in its low nibble and element j+16 in its high one.
func appendQ4_0(dst []byte, x []float32) []byte {
	for b := 0; b < len(x); b += 32 {
		blk := x[b : b+32]
		var amax, m float32
		for _, v := range blk {
			if a := float32(math.Abs(float64(v))); a > amax {
				amax, m = a, v
			}
		}
		d := m / -8
		id := float32(0)
		if d != 0 {
			id = 1 / d
		}
		dst = binary.LittleEndian.AppendUint16(dst, f16(d))
		code := func(v float32) byte { return byte(min(15, int(v*id+8.5))) }
		for j := range 16 {
			dst = append(dst, code(blk[j])|code(blk[j+16])<<4)
		}
	}
	return dst
}
