/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The answer loop of the insert-card and consent windows (see ask.h). Closing the window or Escape is
 * always a cancel: no window of imza's says yes by going away. */
#include "prompt/ask.h"
#include "prompt/widgets.h"

void ask_finish(struct ask *a, enum prompt_answer answer)
{
	if (a->done)
		return;
	a->answer = answer;
	a->done = true;
}

static gboolean on_escape(GtkWidget *widget, GVariant *args, gpointer data)
{
	ask_finish(data, ANSWER_CANCEL);
	return TRUE;
}

static gboolean on_close_request(GtkWindow *window, gpointer data)
{
	ask_finish(data, ANSWER_CANCEL);
	return TRUE; /* the window goes when the answer is taken */
}

static gboolean on_timeout(gpointer data)
{
	struct ask *a = data;

	a->timer = 0;
	ask_finish(a, ANSWER_TIMEOUT);
	return G_SOURCE_REMOVE;
}

static void on_clicked(GtkButton *b, gpointer data)
{
	ask_finish(data, (enum prompt_answer)GPOINTER_TO_INT(g_object_get_data(G_OBJECT(b), "imza-answer")));
}

GtkWidget *ask_window(struct ask *a, const char *title)
{
	GtkWidget *win = modal_window(title, on_escape, G_CALLBACK(on_close_request), a);

	a->window = win;
	a->done = false;
	return win;
}

GtkWidget *ask_button(struct ask *a, const char *label, enum prompt_answer answer)
{
	GtkWidget *b = mnemonic_button(gtk_button_new_with_mnemonic(label), label);

	g_object_set_data(G_OBJECT(b), "imza-answer", GINT_TO_POINTER((int)answer));
	g_signal_connect(b, "clicked", G_CALLBACK(on_clicked), a);
	return b;
}

void ask_run(struct ask *a, unsigned timeout_s)
{
	if (timeout_s > 0)
		a->timer = g_timeout_add_seconds(timeout_s, on_timeout, a);
	gtk_window_present(GTK_WINDOW(a->window));
	while (!a->done)
		g_main_context_iteration(NULL, TRUE);
	if (a->timer)
		g_source_remove(a->timer);
	a->timer = 0;
	gtk_window_destroy(GTK_WINDOW(a->window));
	/* Let GTK finish the unmap before the next window or exit. */
	while (g_main_context_iteration(NULL, FALSE))
		;
}
