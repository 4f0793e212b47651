{
  "targets": [
    {
      "target_name": "featshift_native",
      "sources": ["native/addon.cc", "native/cpu-block-cache.cc", "native/tcmalloc-heap.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/libtorch-config.cjs include)"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "<!@(node scripts/libtorch-config.cjs defines)"
      ],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
      "libraries": ["<!@(node scripts/libtorch-config.cjs libs)"]
    },
    {
      "target_name": "featshift_lock",
      "sources": ["native/file-lock.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O2"]
    },
    {
      "target_name": "featshift_image",
      "sources": ["native/image.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/jpeg-config.cjs include)"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "<!@(node scripts/jpeg-config.cjs defines)"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O3"],
      "libraries": ["<!@(node scripts/jpeg-config.cjs libs)"]
    }
  ]
}
