/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The insert-card window (WAITCARD): up while imzad waits for the card that holds the certificate a
 * signature needs. It names the card (its label, as imzad's cache knows it) and the certificate's holder,
 * under the requesting site, and has one button, İptal. imzad ends it when the card comes by writing to
 * the Assuan pipe, which this window watches (docs/PROMPT.md). */
#include <libintl.h>
#include <string.h>

#include <glib-unix.h>
#include <gtk/gtk.h>

#include "daemon/web/certinfo.h"
#include "prompt/ask.h"
#include "prompt/widgets.h"
#include "prompt/window.h"

#define _(s) gettext(s)

struct card_wait {
	struct ask a;
	guint watch;
};

static gboolean on_input(gint fd, GIOCondition cond, gpointer data)
{
	struct card_wait *w = data;

	/* imzad ended the wait (a line came, or its end of the pipe closed): the window goes. */
	w->watch = 0;
	ask_finish(&w->a, ANSWER_OK);
	return G_SOURCE_REMOVE;
}

void window_waitcard(const struct prompt *p, int in_fd, enum prompt_answer *ret)
{
	struct card_wait w = {0};
	struct ask *a = &w.a;
	struct certinfo ci;
	GtkWidget *box = padded_box(), *win, *row, *spin, *buttons, *cancel, *msg;
	char *s;

	/* A title of its own: a window manager's list and a screen reader tell it from the signing window. */
	win = ask_window(a, _("imza: insert your card"));
	gtk_window_set_default_size(GTK_WINDOW(win), 560, -1);
	if (p->origin)
		gtk_box_append(GTK_BOX(box), site_section(p));
	msg = value_label(
	        _("Please insert the card that holds the certificate to sign with into the reader."), NULL,
	        "imza-domain");
	gtk_box_append(GTK_BOX(box), msg);
	if (p->card_label) {
		s = g_strdup_printf(_("Card: %s"), p->card_label);
		gtk_box_append(GTK_BOX(box), value_label(s, NULL, NULL));
		g_free(s);
	}
	if (p->cert && certinfo_parse(p->cert, p->cert_len, &ci) == 0) {
		const char *who = ci.common_name[0] ? ci.common_name : ci.subject;

		s = g_strdup_printf(_("Certificate of: %s"), who);
		gtk_box_append(GTK_BOX(box), value_label(s, NULL, NULL));
		g_free(s);
		s = g_strdup_printf(_("Issuer: %s"), ci.issuer);
		gtk_box_append(GTK_BOX(box), value_label(s, NULL, NULL));
		g_free(s);
		if (ci.qualified)
			gtk_box_append(GTK_BOX(box), value_label(_("Qualified certificate"), NULL, NULL));
	}
	row = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
	spin = gtk_spinner_new();
	gtk_spinner_start(GTK_SPINNER(spin));
	gtk_box_append(GTK_BOX(row), spin);
	gtk_box_append(GTK_BOX(row), value_label(_("Waiting for the card…"), NULL, NULL));
	gtk_box_append(GTK_BOX(box), row);
	buttons = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
	gtk_widget_set_halign(buttons, GTK_ALIGN_END);
	cancel = ask_button(a, _("_Cancel"), ANSWER_CANCEL);
	gtk_box_append(GTK_BOX(buttons), cancel);
	gtk_box_append(GTK_BOX(box), buttons);
	gtk_window_set_default_widget(GTK_WINDOW(win), cancel);
	gtk_window_set_child(GTK_WINDOW(win), box);
	gtk_widget_grab_focus(cancel);
	w.watch = g_unix_fd_add(in_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_input, &w);
	ask_run(a, p->timeout_s);
	if (w.watch)
		g_source_remove(w.watch);
	*ret = a->answer;
}
