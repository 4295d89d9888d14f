/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Assuan answers as errno, for the pinentry's and imza-prompt's commands alike (see dialog.h). */
#include <errno.h>

#include <gpg-error.h>

#include "daemon/ui/dialog.h"

int dialog_errno(gpg_error_t err)
{
	switch (gpg_err_code(err)) {
	case GPG_ERR_NO_ERROR:
		return 0;
	case GPG_ERR_CANCELED:
	case GPG_ERR_FULLY_CANCELED:
		return -ECANCELED;
	case GPG_ERR_TIMEOUT:
	case GPG_ERR_ETIMEDOUT:
		return -ETIMEDOUT;
	case GPG_ERR_TOO_LARGE:
		return -E2BIG;
	case GPG_ERR_ENOMEM:
		return -ENOMEM;
	case GPG_ERR_EOF:
	case GPG_ERR_ASS_READ_ERROR:
	case GPG_ERR_ASS_WRITE_ERROR:
	case GPG_ERR_ASS_CONNECT_FAILED:
	case GPG_ERR_ASS_SERVER_START:
	case GPG_ERR_EPIPE:
	case GPG_ERR_EIO:
	case GPG_ERR_ECONNRESET:
		return -EIO;
	default:
		return -EPROTO;
	}
}
