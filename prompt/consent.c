/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The consent window (CONSENT): may this site use the e-signature card? It shows the site as the
 * signing window does, what the site asks (to list the certificates, or to sign), and three answers:
 * "Reddet", the default (Enter, Escape and closing the window deny); "Bir kez izin ver" beside it; and,
 * set apart below with what it means, "Her zaman izin ver", so that "always" is never the answer of a
 * hasty key or click (docs/PROMPT.md). */
#include <libintl.h>
#include <string.h>

#include <gtk/gtk.h>

#include "prompt/ask.h"
#include "prompt/widgets.h"
#include "prompt/window.h"

#define _(s) gettext(s)

void window_consent(const struct prompt *p, enum consent_what what, bool can_always, enum prompt_answer *ret)
{
	struct ask a = {0};
	GtkWidget *box = padded_box(), *win, *row, *deny, *once, *sep, *always_box, *always;
	const char *asks;

	win = ask_window(&a, _("imza: permission"));
	gtk_window_set_default_size(GTK_WINDOW(win), 560, -1);
	if (p->origin)
		gtk_box_append(GTK_BOX(box), site_section(p));
	gtk_box_append(GTK_BOX(box), heading(_("What the site asks")));
	asks = what == CONSENT_SIGN ? _("To sign with your e-signature card.")
	                            : _("To see the signing certificates on your e-signature card.");
	gtk_box_append(GTK_BOX(box),
	               value_label(asks, g_strdup_printf(_("The site asks: %s"), asks), "imza-domain"));
	gtk_box_append(GTK_BOX(box),
	               value_label(_("If you allow it, the site can see your certificates and ask for "
	                             "signatures. Every signature shows you the document and asks for your "
	                             "PIN."),
	                           NULL, NULL));
	if (!can_always && p->origin && strncmp(p->origin, "http://", 7) == 0)
		gtk_box_append(
		        GTK_BOX(box),
		        value_label(_("This page was opened over an unencrypted connection (http) and "
		                      "may have been changed on the way: it can be allowed only once."),
		                    NULL, "imza-warning"));
	gtk_box_append(GTK_BOX(box), value_label(_("Do you allow it?"), NULL, "imza-heading"));
	row = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
	gtk_widget_set_halign(row, GTK_ALIGN_END);
	once = ask_button(&a, _("Allow _once"), ANSWER_OK);
	deny = ask_button(&a, _("_Deny"), ANSWER_CANCEL);
	gtk_box_append(GTK_BOX(row), once);
	gtk_box_append(GTK_BOX(row), deny);
	gtk_box_append(GTK_BOX(box), row);
	if (can_always) {
		sep = gtk_separator_new(GTK_ORIENTATION_HORIZONTAL);
		gtk_widget_set_margin_top(sep, 8);
		gtk_box_append(GTK_BOX(box), sep);
		always_box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 12);
		gtk_box_append(
		        GTK_BOX(always_box),
		        value_label(_("Or remember the answer: this site will not be asked again (imzactl "
		                      "grants forget takes it back)."),
		                    NULL, NULL));
		always = ask_button(&a, _("_Always allow"), ANSWER_NOTOK);
		gtk_widget_set_valign(always, GTK_ALIGN_CENTER);
		gtk_widget_set_hexpand(gtk_widget_get_first_child(always_box), TRUE);
		gtk_box_append(GTK_BOX(always_box), always);
		gtk_box_append(GTK_BOX(box), always_box);
	}
	/* Reddet is the default and has the focus: Enter alone never allows. */
	gtk_window_set_default_widget(GTK_WINDOW(win), deny);
	gtk_window_set_child(GTK_WINDOW(win), box);
	gtk_widget_grab_focus(deny);
	ask_run(&a, p->timeout_s);
	*ret = a.answer;
}
