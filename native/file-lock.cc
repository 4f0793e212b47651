// flock(2) for Node: the run folder's lock (src/util/file-lock.ts). A kernel lock is released when
// its holder dies, however it dies, so a killed sweep never leaves a lock that two others could
// both take over. No libtorch here: the analysis and the report may load it too.
#include <napi.h>
#include <sys/file.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace {

// lockExclusive(fd): true when this process now holds the exclusive lock, false when another
// holds it; any other failure throws with the system's reason.
Napi::Value LockExclusive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsNumber()) {
    throw Napi::TypeError::New(env, "lockExclusive(fd) takes a file descriptor");
  }
  const int fd = info[0].As<Napi::Number>().Int32Value();
  int rc;
  do {
    rc = flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc == 0) return Napi::Boolean::New(env, true);
  if (errno == EWOULDBLOCK) return Napi::Boolean::New(env, false);
  throw Napi::Error::New(env, std::string("flock: ") + std::strerror(errno));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("lockExclusive", Napi::Function::New(env, LockExclusive));
  return exports;
}

}  // namespace

NODE_API_MODULE(featshift_lock, Init)
