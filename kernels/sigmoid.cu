// Fused sigmoid, forward and backward, for float16 / float32 / float64 (T).
//
// Both are pure streams (forward reads x and writes y, backward reads y and
// gy and writes gx), so the only goal is to move bytes at copy speed: 16-byte
// accesses, a grid-stride loop over a grid sized to fill the GPU once, and
// no index arithmetic beyond one add per step.
#include "gpugrad_device.cuh"

// vec != 0 when every pointer is 16-byte aligned: then the body moves whole
// vec16 and only the last n % N elements go one by one. Misaligned views
// (rare: a slice of a larger array) take the element loop throughout.
template <class T>
__global__ void __launch_bounds__(256)
sigmoid_forward(const T* __restrict__ x, T* __restrict__ y, long long n, int vec) {
    typedef gg::vec16<T> V;
    const long long stride = (long long)gridDim.x * blockDim.x;
    const long long start = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const long long nv = vec ? n / V::N : 0;
    const V* xv = reinterpret_cast<const V*>(x);
    V* yv = reinterpret_cast<V*>(y);
    for (long long i = start; i < nv; i += stride) {
        V a = xv[i];
#pragma unroll
        for (int k = 0; k < V::N; ++k) a.v[k] = gg::from_acc<T>(gg::sigmoid(gg::to_acc(a.v[k])));
        yv[i] = a;
    }
    for (long long i = nv * V::N + start; i < n; i += stride)
        y[i] = gg::from_acc<T>(gg::sigmoid(gg::to_acc(x[i])));
}

template <class T>
__global__ void __launch_bounds__(256)
sigmoid_backward(const T* __restrict__ y, const T* __restrict__ gy, T* __restrict__ gx,
                 long long n, int vec) {
    typedef gg::vec16<T> V;
    const long long stride = (long long)gridDim.x * blockDim.x;
    const long long start = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const long long nv = vec ? n / V::N : 0;
    const V* yv = reinterpret_cast<const V*>(y);
    const V* gv = reinterpret_cast<const V*>(gy);
    V* xv = reinterpret_cast<V*>(gx);
    for (long long i = start; i < nv; i += stride) {
        V a = yv[i];
        const V b = gv[i];
#pragma unroll
        for (int k = 0; k < V::N; ++k)
            a.v[k] = gg::from_acc<T>(gg::sigmoid_grad(gg::to_acc(a.v[k]), gg::to_acc(b.v[k])));
        xv[i] = a;
    }
    for (long long i = nv * V::N + start; i < n; i += stride)
        gx[i] = gg::from_acc<T>(gg::sigmoid_grad(gg::to_acc(y[i]), gg::to_acc(gy[i])));
}

// The backend compiles with NVRTC name expressions (one dtype per module);
// offline compiles (nvcc --ptx in the tests) instantiate with -DGG_DTYPE=...
#ifdef GG_DTYPE
template __global__ void sigmoid_forward<GG_DTYPE>(const GG_DTYPE*, GG_DTYPE*, long long, int);
template __global__ void sigmoid_backward<GG_DTYPE>(const GG_DTYPE*, const GG_DTYPE*, GG_DTYPE*,
                                                    long long, int);
#endif
