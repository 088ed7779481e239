// Entry point of the kernel core's WebAssembly module: re-exports every kernel. Built by
// `npm run build:wasm` into src/kernels/kernels.wasm and kernels-fma.wasm (committed, so a fresh
// clone works after npm ci; src/kernels/build.test.ts checks they match these sources).
export { gemm, transpose } from './gemm';
export { attn_fwd, attn_bwd, attn_last_fwd } from './attention';
export {
  expf, dropout, relu_dropout_fwd, relu_dropout_bwd, gelu_fwd, gelu_bwd, silu_fwd, silu_bwd, relu_fwd, relu_bwd,
  copy, zero, axpy, add, mul, sumsq, scale, add_bias, col_sum, add_bias_residual, bias_dropout_residual, embed_fwd, embed_bwd,
  adam, adam_rows, add_rows, zero_rows, sumsq_rows, scale_rows,
} from './elementwise';
export { layernorm_fwd, layernorm_bwd, gated_norm_fwd, gated_norm_bwd, l2norm_fwd, l2norm_bwd } from './norms';
export { bce_neg_loss, sampled_softmax_loss, softmax_ce } from './losses';
export { gru_fwd, gru_bwd } from './gru';
export { pack_panels, score_panels, rank_count, count_above } from './score';
export { gram_rows, rank_update_lower, panel_times, sweep_pack, sweep_unpack, neg_sym_from_lower } from './linalg';
export { attn_beam_fwd } from './beam';
