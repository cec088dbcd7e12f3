/* pngio.h - write 8-bit PNG images with libpng (the contact sheets, the frames, the curves). */
#ifndef DN_PNGIO_H
#define DN_PNGIO_H

#include <stdint.h>
#include <stdio.h>

/* Write a w x h image with `channels` 1 (gray), 3 (RGB) or 4 (RGBA), rows top to bottom,
 * tightly packed.  Returns 0 or DN_EIO with err_msg() set.  The caller opens and commits `f`
 * (cli_open_out_text / cli_commit_out), so a failure leaves no file under the final name. */
int png_write(FILE *f, int w, int h, int channels, const uint8_t *pixels);

#endif
