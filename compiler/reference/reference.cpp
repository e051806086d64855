// The float64 reference (DESIGN §4): per document, per query head, per row, the whole score row
// is materialised and M(i, j) comes straight from the mask tree; forward and backward.
#include "attncc/reference.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "attncc/error.h"
#include "compiler/reference/reference_checks.h"

namespace attncc {
namespace {

using reference_detail::Geometry;

constexpr double kNegativeInfinity = -std::numeric_limits<double>::infinity();

double dot(const double* a, const double* b, int64_t n) {
  double sum = 0.0;
  for (int64_t c = 0; c < n; ++c) sum += a[c] * b[c];
  return sum;
}

// Score-path options of the spec, fixed for one call.
struct ScoreOptions {
  double scale = 1.0;
  double softcap = 0.0;  // 0 = off
  bool alibi = false;
};

// M(i, j) of one document, row-major [Lq, Lk]; evaluated once per document and shared by every
// head, since the mask does not depend on the head.
std::vector<char> document_mask(const Predicate& mask, const MaskContext& context) {
  std::vector<char> allowed(static_cast<size_t>(context.query_length * context.key_length));
  for (int64_t i = 0; i < context.query_length; ++i) {
    for (int64_t j = 0; j < context.key_length; ++j) {
      allowed[static_cast<size_t>(i * context.key_length + j)] = evaluate(mask, context, i, j);
    }
  }
  return allowed;
}

// Forward (and, with d_o, backward) of one document and one query head.
class HeadPass {
 public:
  HeadPass(const Geometry& g, const ScoreOptions& options, const ReferenceInputs& inputs,
           ReferenceOutputs& outputs)
      : g_(g), options_(options), inputs_(inputs), outputs_(outputs) {}

  void run(const Document& doc, const std::vector<char>& allowed, int64_t h) {
    const int64_t lq = doc.query_length, lk = doc.key_length;
    const int64_t kv_head = h / (g_.heads_q / g_.heads_kv);
    const double slope = options_.alibi ? inputs_.alibi_slopes[static_cast<size_t>(h)] : 0.0;
    scores_.assign(static_cast<size_t>(lk), 0.0);
    tanh_.assign(static_cast<size_t>(lk), 0.0);
    probabilities_.assign(static_cast<size_t>(lk), 0.0);
    for (int64_t i = 0; i < lq; ++i) {
      const int64_t row = doc.query_start + i;
      const double* q = inputs_.q.data() + g_.q_at(doc.batch, row, h);
      const char* row_allowed = allowed.data() + i * lk;
      // Pass 1: scores of attended keys and their maximum.
      double maximum = kNegativeInfinity;
      bool any = false;
      for (int64_t j = 0; j < lk; ++j) {
        if (!row_allowed[j]) continue;
        const double* k = inputs_.k.data() + g_.k_at(doc.batch, doc.key_start + j, kv_head);
        double s = options_.scale * dot(q, k, g_.head_dim);
        if (options_.softcap > 0) {
          double t = std::tanh(s / options_.softcap);
          tanh_[static_cast<size_t>(j)] = t;
          s = options_.softcap * t;
        }
        if (options_.alibi) s += slope * static_cast<double>(j - i - (lk - lq));
        scores_[static_cast<size_t>(j)] = s;
        maximum = any ? std::max(maximum, s) : s;
        any = true;
      }
      // Empty row: O = 0, LSE = -inf and dQ = 0 are already in place (never exp(-inf - -inf)).
      if (!any) continue;
      // Pass 2: sum = sum over attended j of exp(s_j - maximum) >= 1 (the maximum contributes 1).
      double sum = 0.0;
      for (int64_t j = 0; j < lk; ++j) {
        if (!row_allowed[j]) continue;
        double p = std::exp(scores_[static_cast<size_t>(j)] - maximum);
        probabilities_[static_cast<size_t>(j)] = p;
        sum += p;
      }
      outputs_.lse[static_cast<size_t>(g_.lse_at(doc.batch, h, row))] = maximum + std::log(sum);
      // Pass 3: O_i = sum_j P_ij v_j with P_ij = exp(s_ij - maximum) / sum.
      double* o = outputs_.o.data() + g_.o_at(doc.batch, row, h);
      for (int64_t j = 0; j < lk; ++j) {
        if (!row_allowed[j]) continue;
        double& p = probabilities_[static_cast<size_t>(j)];
        p /= sum;
        const double* v = inputs_.v.data() + g_.v_at(doc.batch, doc.key_start + j, kv_head);
        for (int64_t c = 0; c < g_.head_dim_v; ++c) o[c] += p * v[c];
      }
      if (!inputs_.d_o.empty()) backward_row(doc, row_allowed, h, kv_head, i);
    }
  }

 private:
  // dS_ij = P_ij (dP_ij - D_i) with dP_ij = dO_i . v_j and D_i = dO_i . O_i (O_i from
  // o_for_delta when given); softcap multiplies by d(c tanh(x/c))/dx = 1 - tanh^2; ALiBi is
  // additive and has no gradient.
  void backward_row(const Document& doc, const char* row_allowed, int64_t h, int64_t kv_head,
                    int64_t i) {
    const int64_t row = doc.query_start + i;
    const double* q = inputs_.q.data() + g_.q_at(doc.batch, row, h);
    const double* d_o = inputs_.d_o.data() + g_.o_at(doc.batch, row, h);
    const double* o = (inputs_.o_for_delta.empty() ? outputs_.o.data() : inputs_.o_for_delta.data()) +
                      g_.o_at(doc.batch, row, h);
    double* dq = outputs_.dq.data() + g_.q_at(doc.batch, row, h);
    const double d_row = dot(d_o, o, g_.head_dim_v);
    for (int64_t j = 0; j < doc.key_length; ++j) {
      if (!row_allowed[j]) continue;
      const int64_t key_row = doc.key_start + j;
      const double* k = inputs_.k.data() + g_.k_at(doc.batch, key_row, kv_head);
      const double* v = inputs_.v.data() + g_.v_at(doc.batch, key_row, kv_head);
      double* dk = outputs_.dk.data() + g_.k_at(doc.batch, key_row, kv_head);
      double* dv = outputs_.dv.data() + g_.v_at(doc.batch, key_row, kv_head);
      const double p = probabilities_[static_cast<size_t>(j)];
      double ds = p * (dot(d_o, v, g_.head_dim_v) - d_row);
      if (options_.softcap > 0) {
        double t = tanh_[static_cast<size_t>(j)];
        ds *= 1.0 - t * t;
      }
      // dK and dV accumulate over the rows of the document and the query heads of the group.
      for (int64_t c = 0; c < g_.head_dim; ++c) {
        dq[c] += options_.scale * ds * k[c];
        dk[c] += options_.scale * ds * q[c];
      }
      for (int64_t c = 0; c < g_.head_dim_v; ++c) dv[c] += p * d_o[c];
    }
  }

  const Geometry& g_;
  const ScoreOptions& options_;
  const ReferenceInputs& inputs_;
  ReferenceOutputs& outputs_;
  // Per-row scratch indexed by j; entries of masked keys are stale and never read.
  std::vector<double> scores_, tanh_, probabilities_;
};

}  // namespace

ReferenceOutputs reference_attention(const Spec& spec, const ReferenceInputs& inputs) {
  reference_detail::CheckedProblem problem = reference_detail::check_reference_inputs(spec, inputs);
  const Geometry& g = problem.geometry;
  // Coverage (DESIGN §1): every element starts as the value of a row in no document, so
  // padding, gaps and tails need no separate pass.
  ReferenceOutputs outputs;
  outputs.o.assign(static_cast<size_t>(g.o_size()), 0.0);
  outputs.lse.assign(static_cast<size_t>(g.lse_size()), kNegativeInfinity);
  if (!inputs.d_o.empty()) {
    outputs.dq.assign(static_cast<size_t>(g.q_size()), 0.0);
    outputs.dk.assign(static_cast<size_t>(g.k_size()), 0.0);
    outputs.dv.assign(static_cast<size_t>(g.v_size()), 0.0);
  }
  ScoreOptions options{spec.scale(), spec.softcap, spec.alibi};
  HeadPass pass(g, options, inputs, outputs);
  for (const Document& doc : problem.documents) {
    if (doc.query_length == 0) continue;  // zero-length documents (sentinels) do no work
    MaskContext context;
    context.query_length = doc.query_length;
    context.key_length = doc.key_length;
    for (const auto& [name, per_document] : problem.parameters) {
      const std::vector<int64_t>& values = inputs.parameters.at(name);
      context.parameters[name] = values[static_cast<size_t>(per_document ? doc.index : 0)];
    }
    std::vector<char> allowed = document_mask(*spec.mask, context);
    for (int64_t h = 0; h < g.heads_q; ++h) pass.run(doc, allowed, h);
  }
  return outputs;
}

}  // namespace attncc
