#!/bin/sh
# Runs a command with gperftools' tcmalloc as its malloc (LD_PRELOAD), as PyTorch's CPU launcher
# (torch.backends.xeon.run_cpu) runs PyTorch: `featshift` (bin/featshift) runs Node through it, and
# the benchmarks run featshift's own measurements through it.
#
# Why: libtorch's own buffers (oneDNN's scratch memory, autograd's nodes, tensors' metadata) come
# from the process's malloc, and glibc's costs a small model's step several per cent: VGG-16 / 8 at
# batch 2 took 0.95 ms forward and 1.22 ms backward with glibc, 0.71 and 1.07 with tcmalloc
# (docs/engine.md). The addon puts the tensors on tcmalloc either way (native/tcmalloc-heap.cc);
# this puts everything else there too.
#
# Left as it is when FEATSHIFT_HOST_ALLOCATOR asks for another allocator, when LD_PRELOAD already
# names a tcmalloc, and where the system has none (Debian: libtcmalloc-minimal4). tcmalloc keeps
# freed pages until featshift hands them back once an epoch (TCMALLOC_RELEASE_RATE=0, as the addon
# sets it); a rate the user set wins.
case "${FEATSHIFT_HOST_ALLOCATOR:-auto}" in
  auto | tcmalloc) ;;
  *) exec "$@" ;;
esac
case "${LD_PRELOAD:-}" in
  *libtcmalloc*) exec "$@" ;;
esac
arch=$(uname -m)
for dir in "/usr/lib/$arch-linux-gnu" "/lib/$arch-linux-gnu" /usr/lib64 /usr/lib; do
  for name in libtcmalloc_minimal.so.4 libtcmalloc.so.4; do
    if [ -e "$dir/$name" ]; then
      LD_PRELOAD="$dir/$name${LD_PRELOAD:+:$LD_PRELOAD}"
      TCMALLOC_RELEASE_RATE="${TCMALLOC_RELEASE_RATE:-0}"
      export LD_PRELOAD TCMALLOC_RELEASE_RATE
      exec "$@"
    fi
  done
done
exec "$@"
