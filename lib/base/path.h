/* path.h - folders on disk, for the library and the tools alike. */
#ifndef DN_PATH_H
#define DN_PATH_H

/* Create folder `dir` and any missing parents (mkdir -p).  0, or DN_EIO/DN_EARG with a message
 * naming the part that could not be made (see err.h). */
int path_mkdirs(const char *dir);

#endif
