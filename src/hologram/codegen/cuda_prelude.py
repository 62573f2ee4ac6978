"""The CUDA C helpers every generated kernel starts with.

Header-free on purpose: NVRTC compiles it without the CUDA toolkit's include files, so the
backend needs nothing beyond CuPy. float16 and bfloat16 live in `float` registers and in
`unsigned short` memory (their IEEE bits); the conversions are single PTX `cvt` instructions
with round-to-nearest-even. Conversions from float64 and from 64-bit integers into bfloat16
first round to odd in float32, so that the rounding into 8 bits is the only one that counts
(the same trick as the reference backend). Integer arithmetic that must wrap is written on
unsigned types, where C defines the wraparound.
"""

from __future__ import annotations

PRELUDE = r"""
#ifndef HOLOGRAM_CUDA_PRELUDE
#define HOLOGRAM_CUDA_PRELUDE
#define HG_DEV __device__ __forceinline__

// ---------------------------------------------------------------- narrow floats
HG_DEV unsigned short hg_f2h(float x) {
  unsigned short r; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r) : "f"(x)); return r;
}
HG_DEV float hg_h2f(unsigned short h) {
  float r; asm("cvt.f32.f16 %0, %1;" : "=f"(r) : "h"(h)); return r;
}
HG_DEV unsigned short hg_d2h(double x) {
  unsigned short r; asm("cvt.rn.f16.f64 %0, %1;" : "=h"(r) : "d"(x)); return r;
}
HG_DEV unsigned short hg_f2b(float x) {
  unsigned short r; asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(x)); return r;
}
HG_DEV float hg_b2f(unsigned short b) { return __uint_as_float(((unsigned)b) << 16); }
HG_DEV float hg_rh(float x) { return hg_h2f(hg_f2h(x)); }
HG_DEV float hg_rb(float x) { return hg_b2f(hg_f2b(x)); }
// float64 -> float32 rounded to odd: an inexact result gets an odd last bit.
HG_DEV float hg_odd_f(double x) {
  float f = __double2float_rz(x);
  if (x == x && (double)f != x) f = __uint_as_float(__float_as_uint(f) | 1u);
  return f;
}
HG_DEV float hg_odd_ll(long long x) {
  float f = __ll2float_rz(x);
  if ((long long)f != x) f = __uint_as_float(__float_as_uint(f) | 1u);
  return f;
}
HG_DEV float hg_odd_ull(unsigned long long x) {
  float f = __ull2float_rz(x);
  if ((unsigned long long)f != x) f = __uint_as_float(__float_as_uint(f) | 1u);
  return f;
}
HG_DEV float hg_d2hf(double x) { return hg_h2f(hg_d2h(x)); }
HG_DEV float hg_d2bf(double x) { return hg_rb(hg_odd_f(x)); }
// a * b + c in float64 rounded to odd, for fused multiply-adds of narrow floats.
HG_DEV double hg_fma_odd(double a, double b, double c) {
  double z = __fma_rz(a, b, c);
  if (z == z && __fma_ru(a, b, c) != __fma_rd(a, b, c))
    z = __longlong_as_double(__double_as_longlong(z) | 1ll);
  return z;
}

// ---------------------------------------------------------------- min and max (NaN wins)
HG_DEV float hg_min(float a, float b) { return (a < b || a != a) ? a : b; }
HG_DEV float hg_max(float a, float b) { return (a > b || a != a) ? a : b; }
HG_DEV double hg_min(double a, double b) { return (a < b || a != a) ? a : b; }
HG_DEV double hg_max(double a, double b) { return (a > b || a != a) ? a : b; }
template <typename T> HG_DEV T hg_min(T a, T b) { return a < b ? a : b; }
template <typename T> HG_DEV T hg_max(T a, T b) { return a > b ? a : b; }

// ---------------------------------------------------------------- integer division
// A zero divisor gives 0; x / -1 wraps for the most negative x.
template <typename T> HG_DEV T hg_sdiv(T a, T b) {
  return b == 0 ? (T)0 : (b == (T)-1 ? (T)(0ull - (unsigned long long)a) : (T)(a / b));
}
template <typename T> HG_DEV T hg_smod(T a, T b) {
  return (b == 0 || b == (T)-1) ? (T)0 : (T)(a % b);
}
template <typename T> HG_DEV T hg_udiv(T a, T b) { return b == 0 ? (T)0 : (T)(a / b); }
template <typename T> HG_DEV T hg_umod(T a, T b) { return b == 0 ? (T)0 : (T)(a % b); }

// ---------------------------------------------------------------- float to integer
// Truncate toward zero, saturate to the target range, NaN gives 0.
HG_DEV long long hg_f2s(double x, long long lo, long long hi) {
  if (x != x) return 0;
  double t = trunc(x);
  if (t >= (double)hi) return hi;
  if (t <= (double)lo) return lo;
  return (long long)t;
}
HG_DEV unsigned long long hg_f2u(double x, unsigned long long hi) {
  if (x != x) return 0ull;
  double t = trunc(x);
  if (t >= (double)hi) return hi;
  if (t <= 0.0) return 0ull;
  return (unsigned long long)t;
}

// ---------------------------------------------------------------- atomics
// Compare-and-swap loops over the bits of an element: `f` maps the old bits to the new.
template <typename F> HG_DEV unsigned hg_atomic_small(void* p, unsigned size, F f) {
  unsigned* word = (unsigned*)((unsigned long long)p & ~3ull);
  unsigned shift = (unsigned)((unsigned long long)p & 3ull) * 8u;
  unsigned mask = (size == 1 ? 0xffu : 0xffffu) << shift;
  unsigned old = *word, assumed;
  do {
    assumed = old;
    unsigned bits = f((assumed & mask) >> shift);
    old = atomicCAS(word, assumed, (assumed & ~mask) | ((bits << shift) & mask));
  } while (old != assumed);
  return (old & mask) >> shift;
}
template <typename F> HG_DEV unsigned hg_atomic_32(void* p, F f) {
  unsigned* word = (unsigned*)p;
  unsigned old = *word, assumed;
  do {
    assumed = old;
    old = atomicCAS(word, assumed, f(assumed));
  } while (old != assumed);
  return old;
}
template <typename F> HG_DEV unsigned long long hg_atomic_64(void* p, F f) {
  unsigned long long* word = (unsigned long long*)p;
  unsigned long long old = *word, assumed;
  do {
    assumed = old;
    old = atomicCAS(word, assumed, f(assumed));
  } while (old != assumed);
  return old;
}

// ---------------------------------------------------------------- block reductions
HG_DEV int hg_shfl(unsigned m, int v, unsigned o) { return __shfl_down_sync(m, v, o); }
HG_DEV unsigned hg_shfl(unsigned m, unsigned v, unsigned o) { return __shfl_down_sync(m, v, o); }
HG_DEV long long hg_shfl(unsigned m, long long v, unsigned o) { return __shfl_down_sync(m, v, o); }
HG_DEV unsigned long long hg_shfl(unsigned m, unsigned long long v, unsigned o) {
  return __shfl_down_sync(m, v, o);
}
HG_DEV float hg_shfl(unsigned m, float v, unsigned o) { return __shfl_down_sync(m, v, o); }
HG_DEV double hg_shfl(unsigned m, double v, unsigned o) { return __shfl_down_sync(m, v, o); }
template <typename T> HG_DEV T hg_shfl(unsigned m, T v, unsigned o) {
  return (T)__shfl_down_sync(m, (int)v, o);
}
HG_DEV int hg_bcast(unsigned m, int v) { return __shfl_sync(m, v, 0); }
HG_DEV unsigned hg_bcast(unsigned m, unsigned v) { return __shfl_sync(m, v, 0); }
HG_DEV long long hg_bcast(unsigned m, long long v) { return __shfl_sync(m, v, 0); }
HG_DEV unsigned long long hg_bcast(unsigned m, unsigned long long v) {
  return __shfl_sync(m, v, 0);
}
HG_DEV float hg_bcast(unsigned m, float v) { return __shfl_sync(m, v, 0); }
HG_DEV double hg_bcast(unsigned m, double v) { return __shfl_sync(m, v, 0); }
template <typename T> HG_DEV T hg_bcast(unsigned m, T v) { return (T)__shfl_sync(m, (int)v, 0); }
HG_DEV unsigned hg_lane_index() {
  return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
}
// Every lane of the block contributes `v` and gets the result. `scratch` holds 33 values.
template <typename T, typename F> HG_DEV T hg_block_reduce(T v, F f, T* scratch) {
  unsigned lanes = blockDim.x * blockDim.y * blockDim.z;
  unsigned tid = hg_lane_index(), warp = tid >> 5, lane = tid & 31u;
  unsigned width = min(32u, lanes - (warp << 5));
  unsigned mask = width == 32u ? 0xffffffffu : ((1u << width) - 1u);
  for (unsigned o = 16; o > 0; o >>= 1) {
    T other = hg_shfl(mask, v, o);
    if (lane + o < width) v = f(v, other);
  }
  unsigned warps = (lanes + 31u) >> 5;
  // One warp: lane 0 holds the result. (Through shared memory, lane 0 could overwrite the
  // slot in the next reduction before its warp-mates have read it.)
  if (warps == 1u) return hg_bcast(mask, v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {  // a whole warp: there are more than 32 lanes
    T w = scratch[lane < warps ? lane : 0];
    for (unsigned o = 16; o > 0; o >>= 1) {
      T other = hg_shfl(0xffffffffu, w, o);
      if (lane + o < warps) w = f(w, other);
    }
    if (lane == 0) scratch[32] = w;
  }
  __syncthreads();
  return scratch[32];
}
// The same for programs with `exit`: lanes that left are marked in `dead`; the live lanes'
// values are combined in lane order. `values` holds one value per lane.
template <typename T, typename F>
HG_DEV T hg_block_reduce_live(T v, F f, T* values, const unsigned char* dead) {
  unsigned lanes = blockDim.x * blockDim.y * blockDim.z;
  values[hg_lane_index()] = v;
  __syncthreads();
  bool first = true;
  T acc = v;
  for (unsigned i = 0; i < lanes; ++i) {
    if (dead[i]) continue;
    acc = first ? values[i] : f(acc, values[i]);
    first = false;
  }
  __syncthreads();
  return acc;
}
#endif
"""
"""Helpers pasted at the top of every generated kernel (see the module docstring)."""
