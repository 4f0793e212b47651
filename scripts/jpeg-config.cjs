// Tells binding.gyp whether the system's libjpeg (libjpeg62-turbo-dev on Debian, the library
// Pillow decodes with) can be compiled against: native/image.cc decodes JPEG with it when it can,
// and featshift falls back to sharp when it cannot.
//   node scripts/jpeg-config.cjs defines|libs
// JPEG_INCLUDE=<dir> names a folder with jpeglib.h elsewhere than the compiler's default path.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const folders = [process.env.JPEG_INCLUDE, '/usr/include', '/usr/local/include'].filter(Boolean);
const found = folders.some((dir) => fs.existsSync(path.join(dir, 'jpeglib.h')));
const what = process.argv[2];
if (what === 'defines') console.log(found ? 'FEATSHIFT_HAVE_JPEG' : '');
else if (what === 'libs') console.log(found ? '-ljpeg' : '');
else if (what === 'include')
  console.log(found && process.env.JPEG_INCLUDE ? process.env.JPEG_INCLUDE : '');
else {
  console.error('usage: node scripts/jpeg-config.cjs defines|libs|include');
  process.exit(2);
}
