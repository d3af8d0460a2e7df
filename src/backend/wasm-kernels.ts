// Gradient kernels the tfjs wasm backend lacks for training (issue: foundation, item 5).
// Placeholder registry: filled in by the backend work; see test/backend/wasm-grad.test.ts.
export function registerWasmGradientKernels(): void {}
