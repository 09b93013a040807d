// Device-only plumbing shared by the kernels: storage types and their
// conversion to the compute type, 16-byte vectors, group reductions.
// No CUDA headers: NVRTC (through CuPy) may run without a toolkit's include dir.
#pragma once

#include "gpugrad_math.cuh"

namespace gg {

// float16 as its bits; converted with the PTX instructions cuda_fp16.h wraps.
struct half { unsigned short bits; };

template <class T> struct acc { typedef T type; };
template <> struct acc<half> { typedef float type; };  // float16 accumulates in float32

__device__ inline float to_acc(float v) { return v; }
__device__ inline double to_acc(double v) { return v; }
__device__ inline float to_acc(half v) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(v.bits));
    return f;
}

template <class T> __device__ inline T from_acc(typename acc<T>::type v) { return T(v); }
template <> __device__ inline half from_acc<half>(float v) {
    half h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h.bits) : "f"(v));
    return h;
}

// 16 bytes of T, loaded and stored as one 128-bit access.
template <class T> struct alignas(16) vec16 {
    enum { N = 16 / sizeof(T) };
    T v[N];
};

__device__ inline long long load_label(const void* labels, int labels64, long long r) {
    return labels64 ? static_cast<const long long*>(labels)[r]
                    : static_cast<long long>(static_cast<const int*>(labels)[r]);
}

// Reductions over a group of G threads that own one row: G a power of two up
// to 32 (lanes of one warp), or G == blockDim.x (the whole block). Every
// thread of the block must call them (they may __syncthreads); every thread
// of the group gets the result. scratch holds 32 values of shared memory.
template <class A> __device__ inline A group_sum(A v, int G, A* scratch) {
    const int width = G < 32 ? G : 32;
    for (int o = width >> 1; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (G <= 32) return v;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    __syncthreads();  // scratch may still be read by a previous call
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    // Every warp folds the per-warp values itself: no broadcast step needed.
    v = lane < (int)(blockDim.x >> 5) ? scratch[lane] : A(0);
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

template <class A> __device__ inline void group_lse(A& m, A& s, int G, A* sm, A* ss) {
    const int width = G < 32 ? G : 32;
    for (int o = width >> 1; o > 0; o >>= 1)
        lse_merge(m, s, __shfl_xor_sync(0xffffffffu, m, o), __shfl_xor_sync(0xffffffffu, s, o));
    if (G <= 32) return;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    __syncthreads();
    if (lane == 0) { sm[warp] = m; ss[warp] = s; }
    __syncthreads();
    if (lane < (int)(blockDim.x >> 5)) { m = sm[lane]; s = ss[lane]; }
    else { lse_init(m, s); }
    for (int o = 16; o > 0; o >>= 1)
        lse_merge(m, s, __shfl_xor_sync(0xffffffffu, m, o), __shfl_xor_sync(0xffffffffu, s, o));
}

// The first out-of-range label seen wins the flag; the host reads
// {flag, label, C, ignore_index} when it synchronizes anyway.
__device__ inline void record_bad_label(long long* bad, long long label, int C,
                                        long long ignore_index) {
    unsigned long long* flag = reinterpret_cast<unsigned long long*>(bad);
    if (atomicCAS(flag, 0ull, 1ull) == 0ull) {
        bad[1] = label;
        bad[2] = C;
        bad[3] = ignore_index;
    }
}

}  // namespace gg
