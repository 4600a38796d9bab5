#ifndef EPILOGUE_CZLIB_SHIM_H
#define EPILOGUE_CZLIB_SHIM_H
#include <zlib.h>
#endif
