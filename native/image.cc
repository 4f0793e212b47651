// Image kernels of the data loaders, where JavaScript measured 3-4 times slower than Pillow's C
// (docs/datasets.md): Pillow's bilinear resize of 8-bit images, exactly, and the training and
// validation patches of image folders written as the batch's floats; and JPEG decoding with the
// system's libjpeg-turbo (on Debian the very library Pillow decodes with, called as Pillow calls
// it: default DCT and upsampling), so the pixels are PIL's. No libtorch here: loader threads load
// this addon alone. Built without libjpeg's headers (FEATSHIFT_HAVE_JPEG unset) it decodes no
// JPEG, and featshift decodes them through sharp instead.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#ifdef FEATSHIFT_HAVE_JPEG
// In this order: jpeglib.h uses FILE and size_t, and jerror.h needs jpeglib.h.
// clang-format off
#include <csetjmp>
#include <cstdio>
#include <jpeglib.h>
#include <jerror.h>
// clang-format on
#endif

namespace {

// Pillow's fixed point (libImaging/Resample.c): 22 fraction bits for 8-bit images.
constexpr int kPrecisionBits = 32 - 8 - 2;

// One axis of Pillow's bilinear resize: for each output pixel the first input pixel, how many it
// reads, and their weights in fixed point (precompute_coeffs and normalize_coeffs_8bpc, in the
// same double arithmetic).
struct Taps {
  int ksize = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> weights;
};

double Triangle(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

Taps BilinearTaps(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = filter_scale;
  Taps t;
  t.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.weights.assign(static_cast<size_t>(out_size) * t.ksize, 0);
  std::vector<double> k(t.ksize);
  for (int xx = 0; xx < out_size; xx++) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filter_scale;
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; x++) {
      k[x] = Triangle((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    for (int x = 0; x < xmax; x++) {
      const double w = ww != 0.0 ? k[x] / ww : k[x];
      t.weights[static_cast<size_t>(xx) * t.ksize + x] =
          static_cast<int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
    }
    t.first[xx] = xmin;
    t.count[xx] = xmax;
  }
  return t;
}

// A filtered sum back to a byte. Pillow clips first, for filters with negative lobes; the
// triangle has none and its weights sum to 2^22 give or take a few units, so the shift is exact.
inline uint8_t ToByte(int32_t v) {
  return static_cast<uint8_t>(v >> kPrecisionBits);
}

struct Box {
  int left, top, width, height;
};

// Pillow's image.crop(box).resize((out_w, out_h), BILINEAR) of an image of `channels`
// interleaved bands, `stride` pixels a row: the horizontal pass over the rows the vertical one
// reads, rounded to bytes, then the vertical pass; a pass whose size does not change is skipped,
// as Pillow skips it. Each output row goes to `emit(row, y)`.
template <int C, typename Emit>
void ResizeBox(const uint8_t* src, int stride, Box box, int out_w, int out_h, Emit&& emit) {
  const size_t row_length = static_cast<size_t>(out_w) * C;
  const bool need_v = box.height != out_h;
  Taps v;
  int first = 0;
  int last = out_h;
  if (need_v) {
    v = BilinearTaps(box.height, out_h);
    first = v.first[0];
    last = v.first[out_h - 1] + v.count[out_h - 1];
  }
  // The horizontal pass's rows, or the box's own rows in place.
  std::vector<uint8_t> mid;
  const uint8_t* rows = src + ((static_cast<size_t>(box.top) + first) * stride + box.left) * C;
  size_t rows_stride = static_cast<size_t>(stride) * C;
  if (box.width != out_w) {
    const Taps h = BilinearTaps(box.width, out_w);
    mid.resize(row_length * (last - first));
    for (int y = 0; y < last - first; y++) {
      const uint8_t* in = rows + y * rows_stride;
      uint8_t* out = mid.data() + y * row_length;
      for (int xx = 0; xx < out_w; xx++) {
        const int32_t* w = h.weights.data() + static_cast<size_t>(xx) * h.ksize;
        const uint8_t* p = in + static_cast<size_t>(h.first[xx]) * C;
        int32_t ss[C];
        for (int c = 0; c < C; c++) ss[c] = 1 << (kPrecisionBits - 1);
        // The bands share each tap: one weight, C products.
        for (int x = 0; x < h.count[xx]; x++)
          for (int c = 0; c < C; c++) ss[c] += p[x * C + c] * w[x];
        for (int c = 0; c < C; c++) out[xx * C + c] = ToByte(ss[c]);
      }
    }
    rows = mid.data();
    rows_stride = row_length;
  }
  if (!need_v) {
    for (int y = 0; y < out_h; y++) emit(rows + y * rows_stride, y);
    return;
  }
  std::vector<int32_t> sums(row_length);
  std::vector<uint8_t> line(row_length);
  for (int yy = 0; yy < out_h; yy++) {
    const int32_t* w = v.weights.data() + static_cast<size_t>(yy) * v.ksize;
    const uint8_t* in = rows + (v.first[yy] - first) * rows_stride;
    std::fill(sums.begin(), sums.end(), 1 << (kPrecisionBits - 1));
    for (int y = 0; y < v.count[yy]; y++) {
      const uint8_t* r = in + y * rows_stride;
      for (size_t i = 0; i < row_length; i++) sums[i] += r[i] * w[y];
    }
    for (size_t i = 0; i < row_length; i++) line[i] = ToByte(sums[i]);
    emit(line.data(), yy);
  }
}

int IntArg(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "a number was expected");
  return info[i].As<Napi::Number>().Int32Value();
}

// Checks that the box lies in an image of `stride` x rows pixels of `channels` bands held in
// `length` bytes, and that the output is not empty.
void CheckBox(Napi::Env env, size_t length, int stride, int channels, Box box, int out_w, int out_h) {
  if (stride < 1 || channels < 1 || box.width < 1 || box.height < 1 || out_w < 1 || out_h < 1 ||
      box.left < 0 || box.top < 0 || box.left + box.width > stride ||
      (static_cast<size_t>(box.top) + box.height) * stride * channels > length) {
    throw Napi::RangeError::New(env, "the box does not lie within the image");
  }
}

// resize(src, stride, channels, left, top, width, height, outW, outH) -> Uint8Array of
// outW x outH x channels: Pillow's crop and bilinear resize (ResizeBox).
Napi::Value Resize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 9 || !info[0].IsTypedArray()) {
    throw Napi::TypeError::New(env, "resize(src, stride, channels, left, top, width, height, outW, outH)");
  }
  auto src = info[0].As<Napi::Uint8Array>();
  const int stride = IntArg(info, 1), channels = IntArg(info, 2);
  const Box box{IntArg(info, 3), IntArg(info, 4), IntArg(info, 5), IntArg(info, 6)};
  const int out_w = IntArg(info, 7), out_h = IntArg(info, 8);
  CheckBox(env, src.ByteLength(), stride, channels, box, out_w, out_h);
  const size_t row_length = static_cast<size_t>(out_w) * channels;
  auto out = Napi::Uint8Array::New(env, row_length * out_h);
  uint8_t* dst = out.Data();
  const auto copy = [&](const uint8_t* row, int y) {
    std::copy(row, row + row_length, dst + y * row_length);
  };
  if (channels == 1)
    ResizeBox<1>(src.Data(), stride, box, out_w, out_h, copy);
  else if (channels == 3)
    ResizeBox<3>(src.Data(), stride, box, out_w, out_h, copy);
  else
    throw Napi::RangeError::New(env, "resize takes images of 1 or 3 bands");
  return out;
}

// patch(src, stride, left, top, width, height, P, flip, tables, x, offset): the box of an RGB
// image resized to P x P (ResizeBox) and written into x from `offset` as three P x P float
// planes (ToTensor's layout), mirrored left to right when `flip` is true, each byte through its
// channel's 256-entry table (tables: 768 floats, scaling and normalisation).
Napi::Value Patch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 11 || !info[0].IsTypedArray() || !info[7].IsBoolean() || !info[8].IsTypedArray() ||
      !info[9].IsTypedArray()) {
    throw Napi::TypeError::New(env,
                               "patch(src, stride, left, top, width, height, P, flip, tables, x, offset)");
  }
  auto src = info[0].As<Napi::Uint8Array>();
  const int stride = IntArg(info, 1);
  const Box box{IntArg(info, 2), IntArg(info, 3), IntArg(info, 4), IntArg(info, 5)};
  const int P = IntArg(info, 6);
  const bool flip = info[7].As<Napi::Boolean>().Value();
  auto tables = info[8].As<Napi::Float32Array>();
  auto x = info[9].As<Napi::Float32Array>();
  const int64_t offset = info[10].As<Napi::Number>().Int64Value();
  CheckBox(env, src.ByteLength(), stride, 3, box, P, P);
  const size_t plane = static_cast<size_t>(P) * P;
  if (tables.ElementLength() != 768 || offset < 0 ||
      static_cast<size_t>(offset) + 3 * plane > x.ElementLength()) {
    throw Napi::RangeError::New(env, "patch: 768 table entries and room for 3 P x P planes are needed");
  }
  const float* t = tables.Data();
  float* red = x.Data() + offset;
  ResizeBox<3>(src.Data(), stride, box, P, P, [&](const uint8_t* row, int y) {
    float* r = red + static_cast<size_t>(y) * P;
    float* g = r + plane;
    float* b = g + plane;
    for (int q = 0; q < P; q++) {
      const int to = flip ? P - 1 - q : q;
      r[to] = t[row[3 * q]];
      g[to] = t[256 + row[3 * q + 1]];
      b[to] = t[512 + row[3 * q + 2]];
    }
  });
  return env.Undefined();
}

#ifdef FEATSHIFT_HAVE_JPEG

#define FEATSHIFT_STRING(x) #x
#define FEATSHIFT_VERSION(x) FEATSHIFT_STRING(x)

struct ErrorManager {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

// A fatal error: its message kept, back to decode()'s setjmp.
void OnError(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

// Warnings are tolerated, as Pillow tolerates them, except the end of the data before the end of
// the image: Pillow refuses a truncated file ("image file is truncated").
void OnMessage(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) OnError(cinfo);
}

// decode(bytes) -> { width, height, channels, data }: RGB (grey is repeated by libjpeg), or for a
// CMYK or YCCK file its four bands as Pillow holds them (an Adobe file's inverted bands restored),
// which the caller converts to RGB as Pillow does.
Napi::Value Decode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsTypedArray()) {
    throw Napi::TypeError::New(env, "decode(bytes) takes a Uint8Array");
  }
  auto bytes = info[0].As<Napi::Uint8Array>();
  jpeg_decompress_struct cinfo{};
  ErrorManager errors{};
  cinfo.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = OnError;
  errors.base.emit_message = OnMessage;
  jpeg_create_decompress(&cinfo);
  // Everything that outlives a longjmp is declared before setjmp.
  Napi::Buffer<uint8_t> pixels;
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&cinfo);
    throw Napi::Error::New(env, std::string(errors.message));
  }
  jpeg_mem_src(&cinfo, bytes.Data(), static_cast<unsigned long>(bytes.ByteLength()));
  jpeg_read_header(&cinfo, TRUE);
  const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const size_t row = static_cast<size_t>(cinfo.output_width) * cinfo.output_components;
  pixels = Napi::Buffer<uint8_t>::New(env, row * cinfo.output_height);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW rows[1] = {pixels.Data() + row * cinfo.output_scanline};
    jpeg_read_scanlines(&cinfo, rows, 1);
  }
  if (cmyk && cinfo.saw_Adobe_marker) {
    uint8_t* p = pixels.Data();
    for (size_t i = 0; i < pixels.Length(); i++) p[i] = static_cast<uint8_t>(255 - p[i]);
  }
  const int width = static_cast<int>(cinfo.output_width);
  const int height = static_cast<int>(cinfo.output_height);
  const int channels = cinfo.output_components;
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  Napi::Object out = Napi::Object::New(env);
  out.Set("width", width);
  out.Set("height", height);
  out.Set("channels", channels);
  out.Set("data", pixels);
  return out;
}

#endif

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("resize", Napi::Function::New(env, Resize));
  exports.Set("patch", Napi::Function::New(env, Patch));
#ifdef FEATSHIFT_HAVE_JPEG
  exports.Set("decodeJpeg", Napi::Function::New(env, Decode));
  exports.Set("library", Napi::String::New(env, "libjpeg-turbo " FEATSHIFT_VERSION(LIBJPEG_TURBO_VERSION)));
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(featshift_image, Init)
