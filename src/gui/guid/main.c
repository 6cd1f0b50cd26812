/* main.c - being written (issue #8). */
int main(void);
int
main(void)
{
	return 1;
}
