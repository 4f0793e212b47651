// featshift's native layer: a thin Node-API binding over libtorch (ATen + autograd).
//
// It exposes tensors and the handful of operations featshift's VGG needs; the model, the
// initialisation, the optimiser and the training loop are TypeScript (src/engine, src/models).
// Every libtorch exception becomes a JavaScript error carrying libtorch's message: an instance of
// the engine's OutOfMemoryError or EngineError classes (src/engine/errors.ts), which the
// TypeScript side registers with setErrorClasses, so that no caller matches message text.

#include <ATen/autocast_mode.h>
#include <dlfcn.h>
#include <malloc.h>
#include <napi.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cpu-block-cache.h"
#include "tcmalloc-heap.h"

namespace {

// The error classes of the engine (src/engine/errors.ts), registered by setErrorClasses; kept
// for the life of the process, as the tensor class's constructor is.
Napi::FunctionReference* engine_error = nullptr;
Napi::FunctionReference* out_of_memory_error = nullptr;

Napi::Error EngineError(const Napi::Env& env, const std::string& message, bool out_of_memory) {
  Napi::FunctionReference* cls = out_of_memory ? out_of_memory_error : engine_error;
  if (cls == nullptr) return Napi::Error::New(env, message);
  return Napi::Error(env, cls->New({Napi::String::New(env, message)}));
}

// libtorch 1.13's CPU allocator reports a failed allocation as a plain c10::Error.
bool IsCpuOutOfMemory(const std::string& message) {
  return message.rfind("DefaultCPUAllocator: not enough memory", 0) == 0;
}

// Runs `body`, turning C++ exceptions into JavaScript errors: no abort ever reaches the user.
template <typename F>
Napi::Value Guard(const Napi::Env& env, F body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::OutOfMemoryError& e) {
    throw EngineError(env, e.what_without_backtrace(), true);
  } catch (const c10::Error& e) {
    const std::string message = e.what_without_backtrace();
    throw EngineError(env, message, IsCpuOutOfMemory(message));
  } catch (const std::bad_alloc&) {
    throw EngineError(env, "out of memory (std::bad_alloc)", true);
  } catch (const std::exception& e) {
    throw EngineError(env, e.what(), false);
  } catch (...) {
    throw EngineError(env, "libtorch raised an unknown exception", false);
  }
}

// Every argument is read through these: a value of the wrong type is a TypeError naming it.
double NumberArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

double OptionalNumberArg(const Napi::CallbackInfo& info, size_t i, const char* what, double fallback) {
  return info.Length() > i && !info[i].IsUndefined() ? NumberArg(info, i, what) : fallback;
}

std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsString()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

class Tensor : public Napi::ObjectWrap<Tensor> {
 public:
  static Napi::FunctionReference* constructor;

  static Napi::Object Init(Napi::Env env, Napi::Object exports) {
    Napi::Function fn = DefineClass(env, "NativeTensor",
                                    {
                                        InstanceMethod("shape", &Tensor::Shape),
                                        InstanceMethod("dtype", &Tensor::Dtype),
                                        InstanceMethod("device", &Tensor::Device),
                                        InstanceMethod("dispose", &Tensor::Dispose),
                                        InstanceMethod("isDisposed", &Tensor::IsDisposed),
                                        InstanceMethod("toTypedArray", &Tensor::ToTypedArray),
                                        InstanceMethod("item", &Tensor::Item),
                                        InstanceMethod("to", &Tensor::To),
                                        InstanceMethod("contiguous", &Tensor::Contiguous),
                                        InstanceMethod("isChannelsLast", &Tensor::IsChannelsLast),
                                        InstanceMethod("setRequiresGrad", &Tensor::SetRequiresGrad),
                                        InstanceMethod("requiresGrad", &Tensor::RequiresGrad),
                                        InstanceMethod("grad", &Tensor::Grad),
                                        InstanceMethod("backward", &Tensor::Backward),
                                        InstanceMethod("detach", &Tensor::Detach),
                                        InstanceMethod("clone", &Tensor::Clone),
                                        InstanceMethod("mul_", &Tensor::MulInPlace),
                                        InstanceMethod("add_", &Tensor::AddInPlace),
                                        InstanceMethod("copy_", &Tensor::CopyInPlace),
                                        InstanceMethod("zero_", &Tensor::ZeroInPlace),
                                        InstanceMethod("fill_", &Tensor::FillInPlace),
                                        InstanceMethod("normal_", &Tensor::NormalInPlace),
                                        InstanceMethod("uniform_", &Tensor::UniformInPlace),
                                        InstanceMethod("zeroGrad", &Tensor::ZeroGrad),
                                        InstanceMethod("nbytes", &Tensor::Nbytes),
                                    });
    constructor = new Napi::FunctionReference(Napi::Persistent(fn));
    exports.Set("NativeTensor", fn);
    return exports;
  }

  explicit Tensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tensor>(info) {}

  ~Tensor() override {
    if (live_) live_count--;
  }

  // Tensors wrapped and not yet disposed or collected: a leak shows as a growing count.
  static int64_t live_count;

  static Napi::Object Wrap(Napi::Env env, at::Tensor t) {
    Napi::Object obj = constructor->New({});
    Tensor* self = Unwrap(obj);
    self->tensor_ = std::move(t);
    self->live_ = true;
    live_count++;
    return obj;
  }

  static at::Tensor& From(const Napi::Value& v, const char* what) {
    if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(constructor->Value())) {
      throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a tensor");
    }
    Tensor* t = Unwrap(v.As<Napi::Object>());
    if (!t->live_) {
      throw Napi::Error::New(v.Env(), std::string(what) + " is a disposed tensor");
    }
    return t->tensor_;
  }

 private:
  at::Tensor tensor_;
  bool live_ = false;

  at::Tensor& Self(const Napi::Env& env) {
    if (!live_) throw Napi::Error::New(env, "this tensor has been disposed");
    return tensor_;
  }

  Napi::Value Shape(const Napi::CallbackInfo& info) {
    auto sizes = Self(info.Env()).sizes();
    Napi::Array out = Napi::Array::New(info.Env(), sizes.size());
    for (size_t i = 0; i < sizes.size(); i++) out.Set(i, Napi::Number::New(info.Env(), sizes[i]));
    return out;
  }

  Napi::Value Dtype(const Napi::CallbackInfo& info);

  Napi::Value Device(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), Self(info.Env()).device().str());
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (live_) live_count--;
    tensor_ = at::Tensor();
    live_ = false;
    return info.Env().Undefined();
  }

  Napi::Value IsDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !live_); }

  Napi::Value ToTypedArray(const Napi::CallbackInfo& info);

  Napi::Value Item(const Napi::CallbackInfo& info) {
    return Guard(info.Env(), [&]() -> Napi::Value {
      return Napi::Number::New(info.Env(), Self(info.Env()).item<double>());
    });
  }

  Napi::Value To(const Napi::CallbackInfo& info);

  Napi::Value Contiguous(const Napi::CallbackInfo& info) {
    return Guard(info.Env(), [&]() -> Napi::Value {
      bool channelsLast = info[0].IsString() && info[0].As<Napi::String>().Utf8Value() == "channels_last";
      auto format = channelsLast ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
      return Wrap(info.Env(), Self(info.Env()).contiguous(format));
    });
  }

  Napi::Value IsChannelsLast(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), Self(info.Env()).is_contiguous(at::MemoryFormat::ChannelsLast) &&
                                              Self(info.Env()).dim() == 4);
  }

  Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
    return Guard(info.Env(), [&]() -> Napi::Value {
      Self(info.Env()).set_requires_grad(info[0].ToBoolean());
      return info.Env().Undefined();
    });
  }

  Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), Self(info.Env()).requires_grad());
  }

  Napi::Value Grad(const Napi::CallbackInfo& info) {
    return Guard(info.Env(), [&]() -> Napi::Value {
      const at::Tensor& g = Self(info.Env()).grad();
      if (!g.defined()) return info.Env().Null();
      return Wrap(info.Env(), g);
    });
  }

  Napi::Value Backward(const Napi::CallbackInfo& info) {
    return Guard(info.Env(), [&]() -> Napi::Value {
      Self(info.Env()).backward();
      return info.Env().Undefined();
    });
  }

  Napi::Value Detach(const Napi::CallbackInfo& info) {
    return Guard(info.Env(), [&]() -> Napi::Value { return Wrap(info.Env(), Self(info.Env()).detach()); });
  }

  Napi::Value Clone(const Napi::CallbackInfo& info) {
    return Guard(info.Env(), [&]() -> Napi::Value { return Wrap(info.Env(), Self(info.Env()).clone()); });
  }

  // In-place updates run without recording autograd history: they are optimiser and
  // initialisation steps on leaf tensors, as under torch.no_grad() in PyTorch.
  template <typename F>
  Napi::Value InPlace(const Napi::CallbackInfo& info, F body) {
    return Guard(info.Env(), [&]() -> Napi::Value {
      at::NoGradGuard noGrad;
      body(Self(info.Env()));
      return info.This();
    });
  }

  Napi::Value MulInPlace(const Napi::CallbackInfo& info) {
    return InPlace(info, [&](at::Tensor& t) {
      if (info[0].IsNumber())
        t.mul_(NumberArg(info, 0, "factor"));
      else
        t.mul_(From(info[0], "factor"));
    });
  }

  Napi::Value AddInPlace(const Napi::CallbackInfo& info) {
    return InPlace(info, [&](at::Tensor& t) {
      double alpha = OptionalNumberArg(info, 1, "alpha", 1.0);
      if (info[0].IsNumber()) {
        double v = NumberArg(info, 0, "addend") * alpha;
        // Integer tensors (such as num_batches_tracked) take an integer scalar.
        if (!at::isFloatingType(t.scalar_type()) && v == static_cast<double>(static_cast<int64_t>(v))) {
          t.add_(at::Scalar(static_cast<int64_t>(v)));
        } else {
          t.add_(v);
        }
      } else
        t.add_(From(info[0], "addend"), alpha);
    });
  }

  Napi::Value CopyInPlace(const Napi::CallbackInfo& info) {
    return InPlace(info, [&](at::Tensor& t) { t.copy_(From(info[0], "source")); });
  }

  Napi::Value ZeroInPlace(const Napi::CallbackInfo& info) {
    return InPlace(info, [&](at::Tensor& t) { t.zero_(); });
  }

  Napi::Value FillInPlace(const Napi::CallbackInfo& info) {
    return InPlace(info, [&](at::Tensor& t) { t.fill_(NumberArg(info, 0, "value")); });
  }

  Napi::Value NormalInPlace(const Napi::CallbackInfo& info) {
    return InPlace(info,
                   [&](at::Tensor& t) { t.normal_(NumberArg(info, 0, "mean"), NumberArg(info, 1, "std")); });
  }

  Napi::Value UniformInPlace(const Napi::CallbackInfo& info) {
    return InPlace(info,
                   [&](at::Tensor& t) { t.uniform_(NumberArg(info, 0, "low"), NumberArg(info, 1, "high")); });
  }

  // Sets the gradient to zero in place (keeps its memory), as optimizer.zero_grad(set_to_none=False).
  Napi::Value ZeroGrad(const Napi::CallbackInfo& info) {
    return InPlace(info, [&](at::Tensor& t) {
      if (t.grad().defined()) t.mutable_grad().zero_();
    });
  }

  Napi::Value Nbytes(const Napi::CallbackInfo& info) {
    const at::Tensor& t = Self(info.Env());
    return Napi::Number::New(info.Env(), static_cast<double>(t.numel() * t.element_size()));
  }
};

Napi::FunctionReference* Tensor::constructor = nullptr;
int64_t Tensor::live_count = 0;

const char* DtypeName(at::ScalarType s) {
  switch (s) {
    case at::kFloat:
      return "float32";
    case at::kDouble:
      return "float64";
    case at::kHalf:
      return "float16";
    case at::kBFloat16:
      return "bfloat16";
    case at::kInt:
      return "int32";
    case at::kLong:
      return "int64";
    case at::kByte:
      return "uint8";
    case at::kBool:
      return "bool";
    default:
      return "other";
  }
}

at::ScalarType DtypeFromName(const Napi::Env& env, const std::string& name) {
  if (name == "float32") return at::kFloat;
  if (name == "float64") return at::kDouble;
  if (name == "float16") return at::kHalf;
  if (name == "bfloat16") return at::kBFloat16;
  if (name == "int32") return at::kInt;
  if (name == "int64") return at::kLong;
  if (name == "uint8") return at::kByte;
  if (name == "bool") return at::kBool;
  throw Napi::TypeError::New(
      env, "unknown dtype '" + name + "' (float32, float64, float16, bfloat16, int32, int64, uint8, bool)");
}

Napi::Value Tensor::Dtype(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), DtypeName(Self(info.Env()).scalar_type()));
}

Napi::Value Tensor::ToTypedArray(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    at::Tensor t = Self(env).detach().to(at::kCPU).contiguous();
    auto type = t.scalar_type();
    if (type == at::kHalf || type == at::kBFloat16) t = t.to(at::kFloat), type = at::kFloat;
    size_t n = static_cast<size_t>(t.numel());
    size_t bytes = n * t.element_size();
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, bytes);
    if (bytes > 0) std::memcpy(buffer.Data(), t.data_ptr(), bytes);
    switch (type) {
      case at::kFloat:
        return Napi::Float32Array::New(env, n, buffer, 0);
      case at::kDouble:
        return Napi::Float64Array::New(env, n, buffer, 0);
      case at::kInt:
        return Napi::Int32Array::New(env, n, buffer, 0);
      case at::kLong:
        return Napi::BigInt64Array::New(env, n, buffer, 0);
      case at::kByte:
      case at::kBool:
        return Napi::Uint8Array::New(env, n, buffer, 0);
      default:
        throw Napi::TypeError::New(env, "cannot read this tensor's dtype into a typed array");
    }
  });
}

Napi::Value Tensor::To(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    at::Tensor& t = Self(info.Env());
    std::string device = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : t.device().str();
    at::ScalarType dtype = info.Length() > 1 && info[1].IsString()
                               ? DtypeFromName(info.Env(), info[1].As<Napi::String>().Utf8Value())
                               : t.scalar_type();
    return Wrap(info.Env(), t.to(at::Device(device), dtype));
  });
}

std::vector<int64_t> ShapeFrom(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an array of integers");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber())
      throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an array of integers");
    out[i] = e.As<Napi::Number>().Int64Value();
  }
  return out;
}

c10::optional<at::Tensor> Optional(const Napi::Value& v, const char* what) {
  if (v.IsNull() || v.IsUndefined()) return c10::nullopt;
  return Tensor::From(v, what);
}

double Num(const Napi::CallbackInfo& info, size_t i, const char* what) {
  return NumberArg(info, i, what);
}

at::Tensor Arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  return Tensor::From(info[i], what);
}

#define NATIVE(name) Napi::Value name(const Napi::CallbackInfo& info)
#define RETURN_TENSOR(expr) \
  return Guard(info.Env(), [&]() -> Napi::Value { return Tensor::Wrap(info.Env(), (expr)); })

// fromTypedArray(array, shape, device)
NATIVE(FromTypedArray) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    if (!info[0].IsTypedArray()) throw Napi::TypeError::New(env, "data must be a typed array");
    Napi::TypedArray array = info[0].As<Napi::TypedArray>();
    at::ScalarType type;
    switch (array.TypedArrayType()) {
      case napi_float32_array:
        type = at::kFloat;
        break;
      case napi_float64_array:
        type = at::kDouble;
        break;
      case napi_int32_array:
        type = at::kInt;
        break;
      case napi_bigint64_array:
        type = at::kLong;
        break;
      case napi_uint8_array:
        type = at::kByte;
        break;
      default:
        throw Napi::TypeError::New(
            env, "data must be a Float32Array, Float64Array, Int32Array, BigInt64Array or Uint8Array");
    }
    std::vector<int64_t> shape = ShapeFrom(info[1], "shape");
    int64_t count = 1;
    for (int64_t s : shape) {
      if (s < 0) throw Napi::RangeError::New(env, "shape entries must be >= 0");
      count *= s;
    }
    if (count != static_cast<int64_t>(array.ElementLength())) {
      throw Napi::RangeError::New(env, "shape holds " + std::to_string(count) +
                                           " elements but the data has " +
                                           std::to_string(array.ElementLength()));
    }
    uint8_t* data = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
    at::Tensor t = at::from_blob(data, shape, at::TensorOptions().dtype(type)).clone();
    std::string device = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "cpu";
    if (device != "cpu") t = t.to(at::Device(device));
    return Tensor::Wrap(env, t);
  });
}

// full(shape, value, dtype, device)
NATIVE(Full) {
  RETURN_TENSOR(at::full(ShapeFrom(info[0], "shape"), Num(info, 1, "value"),
                         at::TensorOptions()
                             .dtype(DtypeFromName(info.Env(), StringArg(info, 2, "dtype")))
                             .device(at::Device(StringArg(info, 3, "device")))));
}

// conv2d(input, weight, bias | null, stride, padding)
NATIVE(Conv2d) {
  RETURN_TENSOR(at::conv2d(Arg(info, 0, "input"), Arg(info, 1, "weight"), Optional(info[2], "bias"),
                           {static_cast<int64_t>(Num(info, 3, "stride"))},
                           {static_cast<int64_t>(Num(info, 4, "padding"))}));
}

// batchNorm(input, weight, bias, runningMean, runningVar, training, momentum, eps)
NATIVE(BatchNorm) {
  RETURN_TENSOR(at::batch_norm(Arg(info, 0, "input"), Optional(info[1], "weight"), Optional(info[2], "bias"),
                               Optional(info[3], "running mean"), Optional(info[4], "running var"),
                               info[5].ToBoolean(), Num(info, 6, "momentum"), Num(info, 7, "eps"),
                               at::globalContext().userEnabledCuDNN()));
}

// relu_(input): in place, as nn.ReLU(inplace=True); returns the same tensor.
NATIVE(ReluInPlace) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    at::Tensor input = Arg(info, 0, "input");
    return Tensor::Wrap(info.Env(), at::relu_(input));
  });
}

// maxPool2d(input, kernel, stride)
NATIVE(MaxPool2d) {
  RETURN_TENSOR(at::max_pool2d(Arg(info, 0, "input"), {static_cast<int64_t>(Num(info, 1, "kernel"))},
                               {static_cast<int64_t>(Num(info, 2, "stride"))}));
}

// linear(input, weight, bias | null)
NATIVE(Linear) {
  RETURN_TENSOR(at::linear(Arg(info, 0, "input"), Arg(info, 1, "weight"), Optional(info[2], "bias")));
}

// dropout(input, p, training)
NATIVE(Dropout) {
  RETURN_TENSOR(at::dropout(Arg(info, 0, "input"), Num(info, 1, "p"), info[2].ToBoolean()));
}

// reshape(input, shape)
NATIVE(Reshape) {
  RETURN_TENSOR(Arg(info, 0, "input").reshape(ShapeFrom(info[1], "shape")));
}

// crossEntropy(logits, targets): the mean softmax cross-entropy over the batch.
NATIVE(CrossEntropy) {
  RETURN_TENSOR(torch::nn::functional::cross_entropy(Arg(info, 0, "logits"), Arg(info, 1, "targets")));
}

// topkCorrect(logits, targets, k): how many rows have their target among the k largest logits.
NATIVE(TopkCorrect) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    at::NoGradGuard noGrad;
    at::Tensor logits = Arg(info, 0, "logits");
    at::Tensor targets = Arg(info, 1, "targets");
    int64_t k = static_cast<int64_t>(Num(info, 2, "k"));
    at::Tensor top = std::get<1>(logits.topk(k, 1, true, true));
    at::Tensor hit = top.eq(targets.view({-1, 1}).expand_as(top)).any(1);
    return Napi::Number::New(info.Env(), static_cast<double>(hit.sum().item<int64_t>()));
  });
}

// binary(op, a, b | number[, alpha]): add takes alpha (a + alpha * b), as Tensor.add does.
NATIVE(Binary) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    std::string op = StringArg(info, 0, "operation");
    at::Tensor a = Arg(info, 1, "left operand");
    const double alpha = info.Length() > 3 && !info[3].IsUndefined() ? NumberArg(info, 3, "alpha") : 1.0;
    auto apply = [&](auto b) -> at::Tensor {
      if (op == "add") return a.add(b, alpha);
      if (op == "mul") return a.mul(b);
      throw Napi::Error::New(info.Env(), "unknown binary operation " + op);
    };
    at::Tensor out = info[2].IsNumber() ? apply(NumberArg(info, 2, "right operand"))
                                        : apply(Arg(info, 2, "right operand"));
    return Tensor::Wrap(info.Env(), out);
  });
}

// unary(op, a)
NATIVE(Unary) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    std::string op = StringArg(info, 0, "operation");
    at::Tensor a = Arg(info, 1, "operand");
    at::Tensor out;
    if (op == "sum")
      out = a.sum();
    else if (op == "square")
      out = a.square();
    else
      throw Napi::Error::New(info.Env(), "unknown unary operation " + op);
    return Tensor::Wrap(info.Env(), out);
  });
}

NATIVE(ManualSeed) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    torch::manual_seed(static_cast<uint64_t>(Num(info, 0, "seed")));
    return info.Env().Undefined();
  });
}

// setAutocast(enabled, device): bf16 mixed precision as torch.autocast(device, torch.bfloat16)
// sets it: matrix products (convolutions, linear layers) in bf16, the rest in fp32. Leaving it
// clears the cache of bf16 weight copies, which the next optimiser step makes stale.
NATIVE(SetAutocast) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    bool on = info[0].ToBoolean();
    std::string device = StringArg(info, 1, "device");
    at::DeviceType type = device == "cpu" ? at::kCPU : at::kCUDA;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    // libtorch 2.4 names the device instead of one function per device.
    at::autocast::set_autocast_dtype(type, at::kBFloat16);
    at::autocast::set_autocast_enabled(type, on);
#else
    if (type == at::kCPU) {
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      at::autocast::set_cpu_enabled(on);
    } else {
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(on);
    }
#endif
    if (!on) at::autocast::clear_cache();
    return info.Env().Undefined();
  });
}

NATIVE(SetNumThreads) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    int n = static_cast<int>(Num(info, 0, "threads"));
    if (n < 1) throw Napi::RangeError::New(info.Env(), "the thread count must be at least 1");
    at::set_num_threads(n);
    // OpenBLAS's pthread build keeps a pool of its own, one thread per core, which libtorch's
    // thread count does not reach: set it too, so that the classifier's products use the
    // study's threads (its numerics), and processes of one thread each do not contend.
    void* set = dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
    for (const char* lib : {"libopenblas.so.0", "libblas.so.3"}) {
      if (set != nullptr) break;
      if (void* loaded = dlopen(lib, RTLD_LAZY | RTLD_NOLOAD)) {
        set = dlsym(loaded, "openblas_set_num_threads");
        dlclose(loaded);
      }
    }
    if (set != nullptr) reinterpret_cast<void (*)(int)>(set)(n);
    return info.Env().Undefined();
  });
}

NATIVE(GetNumThreads) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

NATIVE(SetGradEnabled) {
  at::GradMode::set_enabled(info[0].ToBoolean());
  return info.Env().Undefined();
}

// Free chunks the C heap holds (glibc; 0 elsewhere).
double HeapFreeBytes() {
#ifdef __GLIBC__
  return static_cast<double>(mallinfo2().fordblks);
#else
  return 0;
#endif
}

// releaseHostMemory(thresholdBytes): when more than thresholdBytes of freed memory is held (the
// CPU block cache's blocks and the C heap's free chunks), frees the cache and hands the heap's
// free memory back to the system. Returns the held bytes seen before.
NATIVE(ReleaseHostMemory) {
  double threshold = OptionalNumberArg(info, 0, "threshold", 0);
  // The tcmalloc heap's free bytes include the block cache's huge-page blocks it takes.
  double held = static_cast<double>(featshift::TcmallocHeapInstalled()
                                        ? featshift::GetTcmallocHeapStats().freeBytes
                                        : featshift::GetCpuBlockCacheStats().cachedBytes) +
                HeapFreeBytes();
  if (held > threshold) {
    featshift::ReleaseCpuBlockCache();
    featshift::ReleaseTcmallocHeap();
#ifdef __GLIBC__
    malloc_trim(0);
#endif
  }
  return Napi::Number::New(info.Env(), held);
}

// hostMemory(): which allocator holds the CPU tensors and what it holds, for tests and diagnostics.
NATIVE(HostMemory) {
  const featshift::CpuBlockCacheStats cache = featshift::GetCpuBlockCacheStats();
  const featshift::TcmallocHeapStats heap = featshift::GetTcmallocHeapStats();
  const bool tcmalloc = featshift::TcmallocHeapInstalled();
  const char* allocator = tcmalloc ? "tcmalloc" : cache.installed ? "block-cache" : "libtorch";
  const auto bytes = [](std::size_t n) { return static_cast<double>(n); };
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("allocator", Napi::String::New(info.Env(), allocator));
  out.Set("cachedBytes", bytes(tcmalloc ? heap.freeBytes : cache.cachedBytes));
  out.Set("inUseBytes", bytes(tcmalloc ? heap.inUseBytes : cache.inUseBytes));
  out.Set("peakInUseBytes", bytes(tcmalloc ? heap.peakInUseBytes : cache.peakInUseBytes));
  out.Set("movedBytes", bytes(cache.movedBytes));
  out.Set("mappedBytes", bytes(cache.mappedBytes));
  out.Set("heapFreeBytes", Napi::Number::New(info.Env(), HeapFreeBytes()));
  out.Set("processMalloc", Napi::String::New(info.Env(), featshift::ProcessMalloc()));
  return out;
}

NATIVE(LiveTensors) {
  return Napi::Number::New(info.Env(), static_cast<double>(Tensor::live_count));
}

NATIVE(IsGradEnabled) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}

NATIVE(BuildInfo) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("version", Napi::String::New(env, TORCH_VERSION));
    out.Set("config", Napi::String::New(env, at::show_config()));
    out.Set("parallel", Napi::String::New(env, at::get_parallel_info()));
    out.Set("mkldnn", Napi::Boolean::New(env, at::hasMKLDNN()));
    out.Set("cudaAvailable", Napi::Boolean::New(env, torch::cuda::is_available()));
    out.Set("cudaDeviceCount", Napi::Number::New(env, static_cast<double>(torch::cuda::device_count())));
#ifdef FEATSHIFT_WITH_CUDA
    out.Set("builtWithCuda", Napi::Boolean::New(env, true));
#else
    out.Set("builtWithCuda", Napi::Boolean::New(env, false));
#endif
    return out;
  });
}

// setErrorClasses(EngineError, OutOfMemoryError): the classes native errors are made of.
NATIVE(SetErrorClasses) {
  if (!info[0].IsFunction() || !info[1].IsFunction())
    throw Napi::TypeError::New(info.Env(), "setErrorClasses needs two classes");
  engine_error = new Napi::FunctionReference(Napi::Persistent(info[0].As<Napi::Function>()));
  out_of_memory_error = new Napi::FunctionReference(Napi::Persistent(info[1].As<Napi::Function>()));
  return info.Env().Undefined();
}

// installHostAllocator(name): makes 'tcmalloc', 'block-cache' or 'libtorch' (its own, left as it
// is) libtorch's CPU allocator, before any tensor is made; false where tcmalloc cannot be loaded.
// The engine calls it once, as it loads the addon, with what FEATSHIFT_HOST_ALLOCATOR chose.
NATIVE(InstallHostAllocator) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "installHostAllocator needs a name");
  const std::string name = info[0].As<Napi::String>();
  bool installed = true;
  if (name == "tcmalloc") {
    installed = featshift::InstallTcmallocHeap();
  } else if (name == "block-cache") {
    featshift::InstallCpuBlockCache();
  } else if (name != "libtorch") {
    throw Napi::TypeError::New(info.Env(), "no host allocator named " + name);
  }
  return Napi::Boolean::New(info.Env(), installed);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Tensor::Init(env, exports);
  exports.Set("installHostAllocator", Napi::Function::New(env, InstallHostAllocator));
  exports.Set("setErrorClasses", Napi::Function::New(env, SetErrorClasses));
  exports.Set("fromTypedArray", Napi::Function::New(env, FromTypedArray));
  exports.Set("full", Napi::Function::New(env, Full));
  exports.Set("conv2d", Napi::Function::New(env, Conv2d));
  exports.Set("batchNorm", Napi::Function::New(env, BatchNorm));
  exports.Set("relu_", Napi::Function::New(env, ReluInPlace));
  exports.Set("maxPool2d", Napi::Function::New(env, MaxPool2d));
  exports.Set("linear", Napi::Function::New(env, Linear));
  exports.Set("dropout", Napi::Function::New(env, Dropout));
  exports.Set("reshape", Napi::Function::New(env, Reshape));
  exports.Set("crossEntropy", Napi::Function::New(env, CrossEntropy));
  exports.Set("topkCorrect", Napi::Function::New(env, TopkCorrect));
  exports.Set("binary", Napi::Function::New(env, Binary));
  exports.Set("unary", Napi::Function::New(env, Unary));
  exports.Set("manualSeed", Napi::Function::New(env, ManualSeed));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("setAutocast", Napi::Function::New(env, SetAutocast));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads));
  exports.Set("setGradEnabled", Napi::Function::New(env, SetGradEnabled));
  exports.Set("isGradEnabled", Napi::Function::New(env, IsGradEnabled));
  exports.Set("liveTensors", Napi::Function::New(env, LiveTensors));
  exports.Set("releaseHostMemory", Napi::Function::New(env, ReleaseHostMemory));
  exports.Set("hostMemory", Napi::Function::New(env, HostMemory));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo));
  return exports;
}

}  // namespace

NODE_API_MODULE(featshift_native, Init)
