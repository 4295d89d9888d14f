/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The answer loop of imza-prompt's smaller windows (insert-card, consent): a modal window whose
 * Escape and close button cancel, buttons that each give one answer, and a run that returns once the
 * window is answered, timed out or ended from outside (ask_finish). */
#pragma once

#include <stdbool.h>

#include <gtk/gtk.h>

#include "prompt/window.h"

struct ask {
	GtkWidget *window;
	bool done;
	enum prompt_answer answer;
	guint timer;
};

/* A new modal window titled title, for a. */
GtkWidget *ask_window(struct ask *a, const char *title);
/* The first answer counts; later ones are ignored. */
void ask_finish(struct ask *a, enum prompt_answer answer);
/* A button (label with a "_" mnemonic) that answers answer. */
GtkWidget *ask_button(struct ask *a, const char *label, enum prompt_answer answer);
/* Shows the window and runs GTK's main context until it is answered; timeout_s 0: none (else it
 * answers ANSWER_TIMEOUT). Then destroys the window. */
void ask_run(struct ask *a, unsigned timeout_s);
