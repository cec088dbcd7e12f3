/* path.c - folders on disk (see path.h). */
#include "base/path.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"

int path_mkdirs(const char *dir)
{
	char p[4096];
	int n = snprintf(p, sizeof p, "%s", dir);
	if (n <= 0 || (size_t)n >= sizeof p)
		return err_set(DN_EARG, "%s: %s", dir, n <= 0 ? "empty folder name" : "path too long");
	for (char *s = p + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char keep = *s;
			*s = '\0';
			if (mkdir(p, 0777) < 0 && errno != EEXIST)
				return err_set(DN_EIO, "%s: cannot create: %s", p, strerror(errno));
			*s = keep;
			if (!keep)
				break;
		}
	}
	struct stat st;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return err_set(DN_EIO, "%s: not a folder", dir);
	return 0;
}
